/**
 * Splits the request byte stream into events, like lib/protocol's RequestFrameDecoder (whose
 * header codec, limits and constants it uses), with one difference that matters for speed:
 * a 1028's content is handed out as views of the socket's own chunks instead of being
 * copied into a packet-sized buffer first. Every other request arrives whole.
 *
 *   header (23) ── 1028 with payload >= 267 ──► fixed part (267) ─► content ... ─► file-end
 *              └─ anything else ──────────────► payload (whole) ─► frame
 *
 * The declared payload size is checked against the limit, and the version and code against
 * the protocol, as soon as the header is complete: nothing is allocated or waited for
 * after a bad header. After an error the reader is dead.
 */
import {
  checkRequestHeader,
  decodeRequestHeader,
  ProtocolError,
  REQUEST_HEADER_SIZE,
  RequestCode,
  type RequestHeader,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';

export type FrameEvent =
  /** A whole request (any code but a well-sized 1028). The payload may be a view of a chunk. */
  | { type: 'frame'; header: RequestHeader; payload: Uint8Array }
  /** A 1028 packet begins: its header and the 267-byte fixed part; `contentLength` bytes follow. */
  | { type: 'file-start'; header: RequestHeader; fixed: Uint8Array; contentLength: number }
  /** The next slice of the current 1028 packet's content (a view of a socket chunk). */
  | { type: 'file-content'; chunk: Uint8Array }
  /** The current 1028 packet is complete. */
  | { type: 'file-end' };

export class FrameReaderError extends Error {
  constructor(
    readonly protocolError: ProtocolError,
    /** The offending header, when one was read. */
    readonly header: RequestHeader | null,
  ) {
    super(protocolError.message);
  }
}

enum State {
  Header,
  Payload,
  Fixed,
  Content,
}

export class FrameReader {
  readonly #head = new Uint8Array(REQUEST_HEADER_SIZE);
  #headFill = 0;
  #state = State.Header;
  #header: RequestHeader | null = null;
  /** Payload (State.Payload) or fixed part (State.Fixed) being filled. */
  #buffer: Uint8Array | null = null;
  #fill = 0;
  /** Content bytes of the current 1028 still to come. */
  #remaining = 0;
  #failure: FrameReaderError | null = null;

  constructor(private readonly maxPayload: number) {}

  /** True between requests (no partial request buffered). */
  get idle(): boolean {
    return this.#state === State.Header && this.#headFill === 0;
  }

  /** Declared payload size of the request being received (0 between requests or mid-header). */
  get currentPayloadSize(): number {
    return this.#state === State.Header ? 0 : this.#header!.payloadSize;
  }

  push(chunk: Uint8Array): FrameEvent[] {
    if (this.#failure) throw this.#failure;
    const out: FrameEvent[] = [];
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
          const header = decodeRequestHeader(this.#head);
          this.#check(header);
          this.#header = header;
          const size = header.payloadSize;
          if (header.code === RequestCode.SendFile && size >= SEND_FILE_FIXED_SIZE) {
            this.#state = State.Fixed;
            this.#remaining = size - SEND_FILE_FIXED_SIZE;
            this.#buffer = null;
            this.#fill = 0;
          } else if (size === 0) {
            out.push({ type: 'frame', header, payload: new Uint8Array(0) });
          } else if (n - at >= size) {
            // Whole payload inside this chunk: a view, no copy.
            out.push({ type: 'frame', header, payload: chunk.subarray(at, at + size) });
            at += size;
          } else {
            this.#state = State.Payload;
            this.#buffer = new Uint8Array(size);
            this.#fill = 0;
          }
          break;
        }
        case State.Payload:
        case State.Fixed: {
          const want = this.#state === State.Payload ? this.#header!.payloadSize : SEND_FILE_FIXED_SIZE;
          if (this.#buffer === null && this.#fill === 0 && n - at >= want) {
            this.#emitFilled(out, chunk.subarray(at, at + want));
            at += want;
            break;
          }
          this.#buffer ??= new Uint8Array(want);
          const take = Math.min(want - this.#fill, n - at);
          this.#buffer.set(chunk.subarray(at, at + take), this.#fill);
          this.#fill += take;
          at += take;
          if (this.#fill === want) this.#emitFilled(out, this.#buffer);
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

  #check(header: RequestHeader): void {
    try {
      if (header.payloadSize > this.maxPayload) {
        throw new ProtocolError(
          'PROTO_ERR_PAYLOAD_TOO_LARGE',
          `Declared payload of ${header.payloadSize} bytes exceeds the limit of ${this.maxPayload}.`,
        );
      }
      checkRequestHeader(header);
    } catch (e) {
      this.#failure = new FrameReaderError(e as ProtocolError, header);
      throw this.#failure;
    }
  }

  #emitFilled(out: FrameEvent[], bytes: Uint8Array): void {
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

  #endFile(out: FrameEvent[]): void {
    out.push({ type: 'file-end' });
    this.#state = State.Header;
  }
}
