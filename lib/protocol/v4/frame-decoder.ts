/**
 * The incremental v4 frame decoder, shaped like lib/protocol's RequestDecoder: push chunks
 * split anywhere, get whole frames. The optional 23-byte preamble is checked first; each
 * 6-byte header is judged (version, type allowed for this direction, exact length range)
 * as soon as it is complete, before its body is buffered, so a declared size never
 * allocates more than the type's limit (at most one record, 256 KiB + 16). After an error
 * the decoder is dead and every later push throws the same error.
 */
import { FRAME_HEADER_SIZE, type FrameType, PREAMBLE_SIZE } from './constants';
import { V4ProtocolError } from './errors';
import { checkFrameHeader, type Frame, type FrameHeader, isPreamble } from './frames';

enum State {
  Preamble,
  Header,
  Body,
}

export class FrameDecoder {
  #allowed: readonly FrameType[];
  readonly #head = new Uint8Array(Math.max(PREAMBLE_SIZE, FRAME_HEADER_SIZE));
  #headFill = 0;
  #state: State;
  #header: FrameHeader | null = null;
  #body: Uint8Array | null = null;
  #fill = 0;
  #failure: V4ProtocolError | null = null;
  readonly #allocate: (size: number) => Uint8Array;

  /**
   * `allowed`: the frame types this side may receive; `preamble`: expect it first (server);
   * `allocate`: a body's buffer, every byte of which is written before the frame is handed
   * out (Node passes Buffer.allocUnsafe: no zero-filling of 256 KiB per record).
   */
  constructor(opts: {
    allowed: readonly FrameType[];
    preamble?: boolean;
    allocate?: (size: number) => Uint8Array;
  }) {
    this.#allowed = opts.allowed;
    this.#allocate = opts.allocate ?? ((size) => new Uint8Array(size));
    this.#state = opts.preamble ? State.Preamble : State.Header;
  }

  /**
   * The frame types accepted from the next header on (the receiver's state changed: the server
   * takes Chunks only after Welcome). A header already judged is not judged again.
   */
  allow(types: readonly FrameType[]): void {
    this.#allowed = types;
  }

  /** True between frames. */
  get idle(): boolean {
    return this.#state === State.Header && this.#headFill === 0;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.#failure) throw this.#failure;
    try {
      return this.#push(chunk);
    } catch (e) {
      this.#failure = e as V4ProtocolError;
      throw e;
    }
  }

  #push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.#state === State.Body) {
        const header = this.#header!;
        if (this.#body === null && chunk.length - at >= header.length) {
          // Whole inside this chunk: copy once so the frame outlives the caller's buffer.
          const body = this.#allocate(header.length);
          body.set(chunk.subarray(at, at + header.length));
          out.push({ type: header.type, body });
          at += header.length;
          this.#state = State.Header;
          continue;
        }
        this.#body ??= this.#allocate(header.length);
        const take = Math.min(header.length - this.#fill, chunk.length - at);
        this.#body.set(chunk.subarray(at, at + take), this.#fill);
        this.#fill += take;
        at += take;
        if (this.#fill === header.length) {
          out.push({ type: header.type, body: this.#body });
          this.#body = null;
          this.#fill = 0;
          this.#state = State.Header;
        }
        continue;
      }
      const size = this.#state === State.Preamble ? PREAMBLE_SIZE : FRAME_HEADER_SIZE;
      const take = Math.min(size - this.#headFill, chunk.length - at);
      this.#head.set(chunk.subarray(at, at + take), this.#headFill);
      this.#headFill += take;
      at += take;
      if (this.#headFill < size) continue;
      this.#headFill = 0;
      if (this.#state === State.Preamble) {
        if (!isPreamble(this.#head.subarray(0, PREAMBLE_SIZE)))
          throw new V4ProtocolError('V4_ERR_BAD_PREAMBLE', 'Not the version 4 preamble.');
        this.#state = State.Header;
        continue;
      }
      const header = checkFrameHeader(this.#head.subarray(0, FRAME_HEADER_SIZE), this.#allowed);
      if (header.length === 0) {
        out.push({ type: header.type, body: new Uint8Array(0) });
        continue;
      }
      this.#header = header;
      this.#state = State.Body;
    }
    return out;
  }
}
