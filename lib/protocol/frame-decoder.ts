import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  MAX_RESPONSE_PAYLOAD,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
} from './constants';
import { ProtocolError } from './errors';
import {
  decodeRequestHeader,
  decodeResponseHeader,
  type RequestHeader,
  type ResponseHeader,
} from './headers';

export interface Frame<H> {
  header: H;
  payload: Uint8Array;
}
export type RequestFrame = Frame<RequestHeader>;
export type ResponseFrame = Frame<ResponseHeader>;

/**
 * Incremental frame decoder: header -> payload, for any split of the byte stream.
 * The declared payload size is checked against `maxPayload` before anything is allocated.
 * After an error the decoder is dead: every later push throws the same error.
 * A payload that arrives whole inside one chunk is returned as a view of that chunk.
 */
class FrameDecoder<H extends { payloadSize: number }> {
  private readonly head: Uint8Array;
  private headFill = 0;
  private header: H | null = null;
  private payload: Uint8Array | null = null;
  private payloadFill = 0;
  private failure: ProtocolError | null = null;

  constructor(
    private readonly headerSize: number,
    private readonly parseHeader: (bytes: Uint8Array) => H,
    private readonly maxPayload: number,
  ) {
    // A NaN or negative limit would make every `size > limit` check pass silently.
    if (!Number.isInteger(maxPayload) || maxPayload < 0) {
      throw new ProtocolError(
        'PROTO_ERR_BAD_FIELD',
        `maxPayload must be a non-negative integer, got ${maxPayload}.`,
      );
    }
    this.head = new Uint8Array(headerSize);
  }

  /** True when no partial frame is buffered. */
  get idle(): boolean {
    return this.headFill === 0 && this.header === null;
  }

  /** Bytes still missing to complete the current frame's payload (0 between frames). */
  get pendingPayload(): number {
    return this.header ? this.header.payloadSize - this.payloadFill : 0;
  }

  push(chunk: Uint8Array): Frame<H>[] {
    if (this.failure) throw this.failure;
    const frames: Frame<H>[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.header === null) {
        const take = Math.min(this.headerSize - this.headFill, chunk.length - at);
        this.head.set(chunk.subarray(at, at + take), this.headFill);
        this.headFill += take;
        at += take;
        if (this.headFill < this.headerSize) break;
        const header = this.parseHeader(this.head);
        if (header.payloadSize > this.maxPayload) {
          this.failure = new ProtocolError(
            'PROTO_ERR_PAYLOAD_TOO_LARGE',
            `Declared payload of ${header.payloadSize} bytes exceeds the limit of ${this.maxPayload}.`,
          );
          throw this.failure;
        }
        this.headFill = 0;
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
        this.header = header;
        this.payload = new Uint8Array(header.payloadSize);
        this.payloadFill = 0;
      }
      const payload = this.payload!;
      const take = Math.min(payload.length - this.payloadFill, chunk.length - at);
      payload.set(chunk.subarray(at, at + take), this.payloadFill);
      this.payloadFill += take;
      at += take;
      if (this.payloadFill === payload.length) {
        frames.push({ header: this.header, payload });
        this.header = null;
        this.payload = null;
      }
    }
    return frames;
  }
}

/** Decodes client -> server frames. */
export class RequestFrameDecoder extends FrameDecoder<RequestHeader> {
  constructor(opts: { maxPayload?: number } = {}) {
    super(REQUEST_HEADER_SIZE, decodeRequestHeader, opts.maxPayload ?? DEFAULT_MAX_REQUEST_PAYLOAD);
  }
}

/** Decodes server -> client frames. */
export class ResponseFrameDecoder extends FrameDecoder<ResponseHeader> {
  constructor(opts: { maxPayload?: number } = {}) {
    super(RESPONSE_HEADER_SIZE, decodeResponseHeader, opts.maxPayload ?? MAX_RESPONSE_PAYLOAD);
  }
}
