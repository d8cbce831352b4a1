import type { FileSource } from '../lib/client';

/**
 * A file of `size` bytes that is never held whole: `chunk` (pseudo-random bytes made once)
 * yielded again and again, cut short at the end.
 */
export function syntheticFile(name: string, size: number, chunk: Uint8Array): FileSource {
  return {
    name,
    size,
    async *open() {
      for (let at = 0; at < size; at += chunk.length) {
        yield at + chunk.length <= size ? chunk : chunk.subarray(0, size - at);
      }
    },
  };
}
