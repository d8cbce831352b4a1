/**
 * The one incremental request decoder: splits the client -> server byte stream into events,
 * for any split of the stream. A streamed request (1028) is handed out as its fixed part
 * and then its content as views of the pushed chunks, never copied into a packet-sized
 * buffer (this is the upload's hot path). Every other request arrives whole.
 *
 *   header (23) ── streamed code (1028) ──► fixed part (267) ─► content ... ─► file-end
 *              └─ any other code ────────► payload (whole) ──► frame
 *
 * The header is judged by frame-rules.ts (limit, version, code, the exact payload size the
 * code allows) as soon as its 23 bytes are complete, before anything of the payload is
 * buffered. Errors are ProtocolErrors carrying the header; after one the decoder is dead
 * and every later push throws the same error.
 */
import { DEFAULT_MAX_REQUEST_PAYLOAD, REQUEST_HEADER_SIZE } from './constants';
import type { ProtocolError } from './errors';
import { checkMaxPayload, checkRequestHeader } from './frame-rules';
import { decodeRequestHeader, type RequestHeader } from './headers';

export type RequestEvent =
  /** A whole request (any code that is not streamed). The payload may be a view of a chunk. */
  | { type: 'frame'; header: RequestHeader; payload: Uint8Array }
  /** A 1028 packet begins: its header and the 267-byte fixed part; `contentLength` bytes follow. */
  | { type: 'file-start'; header: RequestHeader; fixed: Uint8Array; contentLength: number }
  /** The next slice of the current 1028 packet's content (a view of a pushed chunk). */
  | { type: 'file-content'; chunk: Uint8Array }
  /** The current 1028 packet is complete. */
  | { type: 'file-end' };

enum State {
  Header,
  Payload,
  Fixed,
  Content,
}

export class RequestDecoder {
  readonly #maxPayload: number;
  readonly #head = new Uint8Array(REQUEST_HEADER_SIZE);
  #headFill = 0;
  #state = State.Header;
  #header: RequestHeader | null = null;
  /** Size of the payload (State.Payload) or fixed part (State.Fixed) being filled. */
  #want = 0;
  #buffer: Uint8Array | null = null;
  #fill = 0;
  /** Content bytes of the current streamed request still to come. */
  #remaining = 0;
  #failure: ProtocolError | null = null;

  constructor(opts: { maxPayload?: number } = {}) {
    this.#maxPayload = checkMaxPayload(opts.maxPayload ?? DEFAULT_MAX_REQUEST_PAYLOAD);
  }

  /** True between requests (no partial request buffered). */
  get idle(): boolean {
    return this.#state === State.Header && this.#headFill === 0;
  }

  /** Declared payload size of the request being received (0 between requests or mid-header). */
  get currentPayloadSize(): number {
    return this.#state === State.Header ? 0 : this.#header!.payloadSize;
  }

  push(chunk: Uint8Array): RequestEvent[] {
    if (this.#failure) throw this.#failure;
    const out: RequestEvent[] = [];
    let at = 0;
    const n = chunk.length;
    while (at < n) {
      switch (this.#state) {
        case State.Header: {
          const take = Math.min(REQUEST_HEADER_SIZE - this.#headFill, n - at);
          this.#head.set(chunk.subarray(at, at + take), this.#headFill);
          this.#headFill += take;
          at += take;
          if (this.#headFill < REQUEST_HEADER_SIZE) break;
          this.#headFill = 0;
          this.#startRequest(decodeRequestHeader(this.#head), out);
          break;
        }
        case State.Payload:
        case State.Fixed: {
          const want = this.#want;
          if (this.#buffer === null && n - at >= want) {
            // Whole inside this chunk: a view, no copy.
            this.#filled(out, chunk.subarray(at, at + want));
            at += want;
            break;
          }
          this.#buffer ??= new Uint8Array(want);
          const take = Math.min(want - this.#fill, n - at);
          this.#buffer.set(chunk.subarray(at, at + take), this.#fill);
          this.#fill += take;
          at += take;
          if (this.#fill === want) this.#filled(out, this.#buffer);
          break;
        }
        case State.Content: {
          const take = Math.min(this.#remaining, n - at);
          out.push({ type: 'file-content', chunk: chunk.subarray(at, at + take) });
          this.#remaining -= take;
          at += take;
          if (this.#remaining === 0) this.#endFile(out);
          break;
        }
      }
    }
    return out;
  }

  #startRequest(header: RequestHeader, out: RequestEvent[]): void {
    let rule: ReturnType<typeof checkRequestHeader>;
    try {
      rule = checkRequestHeader(header, this.#maxPayload);
    } catch (e) {
      this.#failure = e as ProtocolError;
      throw e;
    }
    this.#header = header;
    this.#buffer = null;
    this.#fill = 0;
    if ('streamed' in rule && rule.streamed) {
      this.#state = State.Fixed;
      this.#want = rule.atLeast;
      this.#remaining = header.payloadSize - rule.atLeast;
    } else if (header.payloadSize === 0) {
      out.push({ type: 'frame', header, payload: new Uint8Array(0) });
    } else {
      this.#state = State.Payload;
      this.#want = header.payloadSize;
    }
  }

  #filled(out: RequestEvent[], bytes: Uint8Array): void {
    const header = this.#header!;
    this.#buffer = null;
    this.#fill = 0;
    if (this.#state === State.Payload) {
      out.push({ type: 'frame', header, payload: bytes });
      this.#state = State.Header;
      return;
    }
    out.push({ type: 'file-start', header, fixed: bytes, contentLength: this.#remaining });
    this.#state = State.Content;
    if (this.#remaining === 0) this.#endFile(out);
  }

  #endFile(out: RequestEvent[]): void {
    out.push({ type: 'file-end' });
    this.#state = State.Header;
  }
}
