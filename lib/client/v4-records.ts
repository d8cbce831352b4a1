/**
 * Cuts a stream of chunks (any sizes) into the v4 file records: RECORD_SIZE bytes each but
 * the last; an empty file is one empty record. A record is valid until the next is asked
 * for: a whole record inside one chunk is handed on as a view of it (no copy; the BYOB
 * reader of the page reuses its buffer, which StreamSealer.seal allows), one that spans
 * chunks is joined in a fresh buffer. A source with more or fewer bytes than `total` throws
 * RangeError (the file changed while being sent).
 */
import { RECORD_SIZE } from '../protocol/v4/constants';

export async function* records(chunks: AsyncIterable<Uint8Array>, total: number): AsyncGenerator<Uint8Array> {
  let left = total;
  let buf = new Uint8Array(Math.min(RECORD_SIZE, left));
  let fill = 0;
  if (total === 0) yield buf;
  for await (const chunk of chunks) {
    let at = 0;
    while (at < chunk.length) {
      if (left === 0) throw new RangeError('The source has more bytes than its size.');
      if (fill === 0 && chunk.length - at >= buf.length) {
        const whole = chunk.subarray(at, at + buf.length);
        at += whole.length;
        left -= whole.length;
        yield whole;
        if (left > 0 && buf.length !== Math.min(RECORD_SIZE, left))
          buf = new Uint8Array(Math.min(RECORD_SIZE, left));
        continue;
      }
      const take = Math.min(buf.length - fill, chunk.length - at);
      buf.set(chunk.subarray(at, at + take), fill);
      fill += take;
      at += take;
      if (fill === buf.length) {
        left -= fill;
        yield buf;
        buf = new Uint8Array(Math.min(RECORD_SIZE, left));
        fill = 0;
      }
    }
  }
  if (left > 0) throw new RangeError('The source has fewer bytes than its size.');
}
