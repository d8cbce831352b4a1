import { MAX_RESPONSE_PAYLOAD, RESPONSE_HEADER_SIZE } from './constants';
import type { ProtocolError } from './errors';
import { checkMaxPayload, checkResponseHeader } from './frame-rules';
import { decodeResponseHeader, type ResponseHeader } from './headers';

export interface ResponseFrame {
  header: ResponseHeader;
  payload: Uint8Array;
}

/**
 * Incremental decoder of server -> client frames: header -> payload, for any split of the
 * byte stream. The header is judged by frame-rules.ts (limit, version, code, the payload
 * size the code allows) before anything of the payload is buffered. After an error the
 * decoder is dead: every later push throws the same error. A payload that arrives whole
 * inside one chunk is returned as a view of that chunk.
 */
export class ResponseFrameDecoder {
  readonly #maxPayload: number;
  readonly #head = new Uint8Array(RESPONSE_HEADER_SIZE);
  #headFill = 0;
  #header: ResponseHeader | null = null;
  #payload: Uint8Array | null = null;
  #payloadFill = 0;
  #failure: ProtocolError | null = null;

  constructor(opts: { maxPayload?: number } = {}) {
    this.#maxPayload = checkMaxPayload(opts.maxPayload ?? MAX_RESPONSE_PAYLOAD);
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.#headFill === 0 && this.#header === null;
  }

  /** Bytes still missing to complete the current frame's payload (0 between frames). */
  get pendingPayload(): number {
    return this.#header ? this.#header.payloadSize - this.#payloadFill : 0;
  }

  push(chunk: Uint8Array): ResponseFrame[] {
    if (this.#failure) throw this.#failure;
    const frames: ResponseFrame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#header === null) {
        const take = Math.min(RESPONSE_HEADER_SIZE - this.#headFill, chunk.length - at);
        this.#head.set(chunk.subarray(at, at + take), this.#headFill);
        this.#headFill += take;
        at += take;
        if (this.#headFill < RESPONSE_HEADER_SIZE) break;
        const header = decodeResponseHeader(this.#head);
        try {
          checkResponseHeader(header, this.#maxPayload);
        } catch (e) {
          this.#failure = e as ProtocolError;
          throw e;
        }
        this.#headFill = 0;
        if (header.payloadSize === 0) {
          frames.push({ header, payload: new Uint8Array(0) });
          continue;
        }
        // Whole payload in this chunk: hand out a view, no copy.
        if (chunk.length - at >= header.payloadSize) {
          frames.push({ header, payload: chunk.subarray(at, at + header.payloadSize) });
          at += header.payloadSize;
          continue;
        }
        this.#header = header;
        this.#payload = new Uint8Array(header.payloadSize);
        this.#payloadFill = 0;
      }
      const payload = this.#payload!;
      const take = Math.min(payload.length - this.#payloadFill, chunk.length - at);
      payload.set(chunk.subarray(at, at + take), this.#payloadFill);
      this.#payloadFill += take;
      at += take;
      if (this.#payloadFill === payload.length) {
        frames.push({ header: this.#header, payload });
        this.#header = null;
        this.#payload = null;
      }
    }
    return frames;
  }
}
