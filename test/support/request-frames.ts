/**
 * Test support: joins a RequestDecoder's events back into whole request frames (a 1028's
 * fixed part and content slices become one payload), for the fake server and the protocol
 * tests. The real server streams the content instead.
 */
import { decodeRequest, type Request, type RequestEvent, type RequestHeader } from '../../lib/protocol';

export interface JoinedFrame {
  header: RequestHeader;
  payload: Uint8Array;
}

export class FrameJoiner {
  #file: { header: RequestHeader; payload: Uint8Array; fill: number } | null = null;

  /** The frames these events complete. Content is copied: the pushed chunks may be reused. */
  push(events: readonly RequestEvent[]): JoinedFrame[] {
    const out: JoinedFrame[] = [];
    for (const e of events) {
      switch (e.type) {
        case 'frame':
          out.push({ header: e.header, payload: e.payload.slice() });
          break;
        case 'file-start': {
          const payload = new Uint8Array(e.fixed.length + e.contentLength);
          payload.set(e.fixed);
          this.#file = { header: e.header, payload, fill: e.fixed.length };
          break;
        }
        case 'file-content': {
          const f = this.#file!;
          f.payload.set(e.chunk, f.fill);
          f.fill += e.chunk.length;
          break;
        }
        case 'file-end':
          out.push({ header: this.#file!.header, payload: this.#file!.payload });
          this.#file = null;
          break;
      }
    }
    return out;
  }
}

/** Pushes `chunks` through `decoder` and decodes every request that completes. */
export function decodeRequests(
  decoder: { push(c: Uint8Array): RequestEvent[] },
  chunks: readonly Uint8Array[],
): Request[] {
  const joiner = new FrameJoiner();
  return chunks.flatMap((c) => joiner.push(decoder.push(c)).map((f) => decodeRequest(f.header, f.payload)));
}
