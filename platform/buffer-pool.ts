/**
 * Reused buffers of one size whose lifetime is clear: the holder gives each back once nothing
 * reads it any more. A server receiving 256 KiB records allocated one per record for the frame
 * body (Buffer.allocUnsafe: memory outside V8's heap, which counts towards its next full
 * collection); with the bodies reused, a 512 MiB upload cost about a third fewer full
 * collections (bench/README.md). Only buffers this pool handed out are taken back, each once.
 */
export class BufferPool {
  readonly #size: number;
  readonly #keep: number;
  readonly #free: Buffer[] = [];
  /** Handed out and not given back: only these are taken back (never a caller's own buffer). */
  readonly #lent = new WeakSet<Uint8Array>();

  /** Buffers of `size` bytes; at most `keep` kept while free (the rest are left to the GC). */
  constructor(size: number, keep: number) {
    this.#size = size;
    this.#keep = keep;
  }

  /** A buffer of `size` bytes, not zero-filled (a reused one from this pool when it has that size). */
  allocate = (size: number): Buffer => {
    if (size !== this.#size) return Buffer.allocUnsafe(size);
    const b = this.#free.pop() ?? Buffer.allocUnsafe(size);
    this.#lent.add(b);
    return b;
  };

  /** Gives back a buffer from allocate() that nothing will read again; others are ignored. */
  release(b: Uint8Array): void {
    if (!this.#lent.delete(b)) return;
    if (this.#free.length < this.#keep) this.#free.push(b as Buffer);
  }

  /**
   * Takes in a buffer of this pool's size that came back from elsewhere (transferred to a
   * worker thread and back: a new object over the same memory) and that nothing reads any
   * more. Only a whole ArrayBuffer of exactly `size` bytes is kept; anything else is ignored.
   */
  adopt(b: Uint8Array): void {
    const ab = b.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength !== this.#size) return;
    if (this.#free.length < this.#keep) this.#free.push(Buffer.from(ab, 0, this.#size));
  }

  /** Free buffers now (tests). */
  get free(): number {
    return this.#free.length;
  }
}
