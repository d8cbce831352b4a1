/**
 * The receive side every Transport shares (see transport.ts for the contract it implements):
 * chunks in arrival order, receive() calls answered in call order, the end of the stream
 * after the last chunk when the peer closes, and at once when we close.
 */

export interface ReceiveQueueOptions {
  /**
   * Chunks that may wait unread before `onFull` asks the source to stop reading
   * (backpressure); `onRoom` asks it to read again once half of them were taken.
   */
  highWaterMark?: number;
  onFull?: () => void;
  onRoom?: () => void;
}

export class ReceiveQueue {
  readonly #chunks: Uint8Array[] = [];
  /** receive() calls waiting for a chunk, oldest first; only while #chunks is empty. */
  readonly #waiters: ((chunk: Uint8Array | null) => void)[] = [];
  readonly #highWaterMark: number;
  readonly #onFull: (() => void) | undefined;
  readonly #onRoom: (() => void) | undefined;
  #full = false;
  #ended = false;
  #resolveEnded!: () => void;
  /** Resolves once the stream has ended (peer closed, connection failed, or close()). */
  readonly ended: Promise<void> = new Promise((r) => {
    this.#resolveEnded = r;
  });

  constructor(opts: ReceiveQueueOptions = {}) {
    this.#highWaterMark = opts.highWaterMark ?? Number.POSITIVE_INFINITY;
    this.#onFull = opts.onFull;
    this.#onRoom = opts.onRoom;
  }

  /** True once end() or discard() was called: no more chunks will be accepted. */
  get isEnded(): boolean {
    return this.#ended;
  }

  /** Chunks received and not yet taken. */
  get size(): number {
    return this.#chunks.length;
  }

  /** A chunk from the connection; ignored once the stream has ended. */
  push(chunk: Uint8Array): void {
    if (this.#ended) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter(chunk);
      return;
    }
    this.#chunks.push(chunk);
    if (!this.#full && this.#chunks.length >= this.#highWaterMark) {
      this.#full = true;
      this.#onFull?.();
    }
  }

  /** The peer closed (or the connection failed): what arrived is still received, then null. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    // Waiters exist only while no chunk is queued, so none of them skips a chunk.
    for (const waiter of this.#waiters.splice(0)) waiter(null);
    this.#resolveEnded();
  }

  /** We closed: unread chunks are dropped, every receive() resolves null from now on. */
  discard(): void {
    this.#chunks.length = 0;
    this.end();
  }

  /** The next chunk in arrival order, or null once the stream has ended. Never rejects. */
  receive(): Promise<Uint8Array | null> {
    const next = this.#chunks.shift();
    if (next) {
      if (this.#full && this.#chunks.length <= this.#highWaterMark / 2) {
        this.#full = false;
        this.#onRoom?.();
      }
      return Promise.resolve(next);
    }
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
