/**
 * Cuts a stream of chunks (any sizes) into the v4 file records: RECORD_SIZE bytes each but
 * the last; an empty file is one empty record. Each record is a fresh buffer (it is sealed
 * and sent while the next is being filled). A source with more or fewer bytes than `total`
 * throws RangeError (the file changed while being sent).
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
