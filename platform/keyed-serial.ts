/**
 * Runs the calls made under one key one after another, in the order they were made (calls
 * under different keys run concurrently). A call that fails does not stop the next one. The
 * file store serialises its stores per client and name with it, the v4 partial uploads the
 * opens and discards of one upload.
 */
export class KeyedSerial {
  /** Per key: the end of the last call queued (never rejects). */
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, call: () => Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(call);
    const tail = result.then(
      () => {},
      () => {},
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Keys with a call queued or running (for tests). */
  get size(): number {
    return this.#tails.size;
  }
}
