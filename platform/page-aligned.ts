/**
 * Page-aligned buffers, reused. Node's Buffers of 128 KiB and more come from malloc's own
 * mappings, whose data starts 16 bytes into a page. On this project's machines (AMD EPYC,
 * `rep movsb` copies) the kernel copies into such a buffer from a page-aligned one (a file
 * read from the page cache) four to five times slower than into an aligned one: 0.53-0.78
 * against 0.13-0.16 system CPU-s per GiB in 1 MiB preads (bench/README.md, "Reads into
 * aligned buffers"). A destination 1 to 16 bytes past the source's alignment is the slow
 * case; 32 and more, or 0, are fast. O_DIRECT needs aligned buffers too
 * (platform/direct-writes.ts).
 *
 * A WebAssembly.Memory is mapped by V8 in whole pages, so slices of one at multiples of
 * PAGE_SIZE are aligned. V8 counts a Memory's whole size as external memory from the start
 * (its pages are resident only once written), which lets garbage pile up higher before a
 * full collection: a pool makes a few buffers per Memory, when first needed.
 */

/** Alignment of every buffer handed out (the largest page or logical block this serves). */
export const PAGE_SIZE = 4096;
const WASM_PAGE = 64 * 1024;

export interface PageAlignedPoolOptions {
  /** Buffers made per WebAssembly.Memory. */
  perMemory: number;
  /** Buffers made at most (take() returns null beyond); none: no limit. */
  max?: number;
}

/** Page-aligned buffers of one size, each lent to one holder at a time. */
export class PageAlignedPool {
  readonly size: number;
  readonly #slot: number;
  readonly #perMemory: number;
  readonly #max: number;
  readonly #free: Buffer[] = [];
  /** Handed out and not given back: only these are taken back (never a caller's own buffer). */
  readonly #lent = new WeakSet<Uint8Array>();
  #made = 0;

  constructor(size: number, opts: PageAlignedPoolOptions) {
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new RangeError(`Buffer size ${size} is not a positive integer.`);
    this.size = size;
    this.#slot = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
    this.#perMemory = Math.max(1, opts.perMemory);
    this.#max = opts.max ?? Number.POSITIVE_INFINITY;
  }

  /** A free buffer of `size` bytes (contents undefined), or null once `max` are lent out. */
  take(): Buffer | null {
    let b = this.#free.pop();
    if (!b) {
      if (this.#made >= this.#max) return null;
      const n = Math.min(this.#perMemory, this.#max - this.#made);
      const pages = Math.ceil((n * this.#slot) / WASM_PAGE);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      // Taken last first: the lowest slices are the ones reused.
      for (let i = n - 1; i >= 0; i--) this.#free.push(Buffer.from(memory.buffer, i * this.#slot, this.size));
      this.#made += n;
      b = this.#free.pop()!;
    }
    this.#lent.add(b);
    return b;
  }

  /** Gives back a buffer from take() that nothing will read or write again; others are ignored. */
  give(b: Uint8Array): void {
    if (this.#lent.delete(b)) this.#free.push(b as Buffer);
  }

  /** Made so far / free now (tests). */
  get stats(): { made: number; free: number } {
    return { made: this.#made, free: this.#free.length };
  }
}
