/**
 * Appending received files with O_DIRECT where the file system allows it: the bytes go from a
 * reused staging buffer to the disk without a page-cache copy. On this project's 2-core VM
 * the kernel's copy into new page-cache pages (`copy_folio_from_iter_atomic` under `pwritev`)
 * was a third of the server's CPU during an upload: 0.2-2.0 system seconds per 512 MiB
 * written to a new file (less when a file of that size was just deleted: its pages are
 * reused), 0.05-0.08 with O_DIRECT (`bench/README.md`). Node has no
 * posix_fadvise(DONTNEED) to let the cache reuse its pages, so the writes skip it.
 *
 * O_DIRECT needs the buffer's address, the file offset and the length aligned to the
 * device's logical block. Node's Buffers come from malloc (16-byte alignment); each write
 * copies its chunks into a page-aligned staging buffer (platform/page-aligned.ts), writes the
 * aligned part directly and the rest (a file's tail) through the ordinary descriptor. A file
 * system that refuses O_DIRECT at open, or a write that fails with EINVAL, falls back to
 * ordinary writes for good (EINVAL: for the process); a write that finds no free staging
 * buffer (more writes at once than MAX_STAGING_BUFFERS) goes through the page cache alone.
 */
import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { PAGE_SIZE, PageAlignedPool } from './page-aligned';

/** Offsets and lengths of direct writes are multiples of this (any logical block up to 4 KiB). */
export const DIRECT_ALIGN = PAGE_SIZE;
/** One staging buffer: the largest write that goes direct in one piece (v3's and v4's 1 MiB writes). */
export const STAGING_SIZE = 1024 * 1024;
/** Staging buffers at most (memory that, once made, the process keeps: 32 MiB). */
export const MAX_STAGING_BUFFERS = 32;

/**
 * Four staging buffers per WebAssembly.Memory: one Memory of all 32 raised the server's peak
 * RSS by about 10 MiB during a long upload (V8 counts its whole size as external memory).
 */
const staging = new PageAlignedPool(STAGING_SIZE, { perMemory: 4, max: MAX_STAGING_BUFFERS });

/** For tests: how many staging buffers exist and how many are free (all, between writes). */
export function stagingStats(): { made: number; free: number } {
  return staging.stats;
}

/** Set once a write with O_DIRECT failed with EINVAL: this system does not align as expected. */
let directRefused = false;

async function writeAll(fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < buf.length; ) {
    const n = (await fh.write(buf, done, buf.length - done, position + done)).bytesWritten;
    if (n === 0) throw new Error('The disk took no more bytes.');
    done += n;
  }
}

/**
 * Positional writes to one file: direct where possible, else through `buffered` (the caller's
 * handle, which it closes itself). Writes must not overlap in time (each awaits the last).
 */
export class FileAppender {
  readonly #buffered: FileHandle;
  #direct: FileHandle | null;

  private constructor(buffered: FileHandle, direct: FileHandle | null) {
    this.#buffered = buffered;
    this.#direct = direct;
  }

  /** `direct` false: ordinary writes only. */
  static async open(
    path: string,
    buffered: FileHandle,
    opts: { direct?: boolean } = {},
  ): Promise<FileAppender> {
    let direct: FileHandle | null = null;
    const flag = (constants as { O_DIRECT?: number }).O_DIRECT;
    if (opts.direct !== false && !directRefused && flag !== undefined) {
      // EINVAL: this file system has no O_DIRECT (ordinary writes then).
      direct = await open(path, constants.O_WRONLY | flag).catch(() => null);
    }
    return new FileAppender(buffered, direct);
  }

  /** True while writes go direct (tests). */
  get direct(): boolean {
    return this.#direct !== null;
  }

  /** Writes `chunks` one after another from `position`; all of them or it throws. */
  async write(chunks: readonly Uint8Array[], position: number): Promise<void> {
    let total = 0;
    for (const c of chunks) total += c.length;
    if (total === 0) return;
    const direct = this.#direct;
    const slot = direct && position % DIRECT_ALIGN === 0 && total <= STAGING_SIZE ? staging.take() : null;
    if (!direct || !slot) {
      const { bytesWritten } = await this.#buffered.writev(chunks as Uint8Array[], position);
      if (bytesWritten < total) {
        // A short write (a disk filling up): the rest one write at a time, which reports ENOSPC.
        await writeAll(
          this.#buffered,
          Buffer.concat(chunks as Uint8Array[]).subarray(bytesWritten),
          position + bytesWritten,
        );
      }
      return;
    }
    try {
      let at = 0;
      for (const c of chunks) {
        slot.set(c, at);
        at += c.length;
      }
      const aligned = total - (total % DIRECT_ALIGN);
      let done = 0;
      if (aligned > 0) {
        try {
          done = (await direct.write(slot, 0, aligned, position)).bytesWritten;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
          // Not aligned as this file system wants after all: ordinary writes from now on.
          directRefused = true;
          this.#direct = null;
          await direct.close().catch(() => {});
        }
      }
      await writeAll(this.#buffered, slot.subarray(done, total), position + done);
    } finally {
      staging.give(slot);
    }
  }

  /** Closes the direct descriptor (after the last write). */
  async close(): Promise<void> {
    const d = this.#direct;
    this.#direct = null;
    await d?.close().catch(() => {});
  }
}
