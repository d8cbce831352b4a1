/**
 * Counts the fragments of the WebSocket message a client is sending, from the raw bytes,
 * before ws reads them. ws keeps each non-empty fragment's data as its own Buffer until the
 * message is whole (up to 16,384, its maxFragments), at about 220 bytes each for a one-byte
 * fragment that is 7 bytes on the wire, and does not say how many it holds; the budget for
 * unfinished messages (message-budget.ts) charges them from this count. Only frame headers
 * are read (2 to 14 bytes each); payloads are skipped by their declared length. A client's
 * frames are masked and this bridge offers no extension, so a header is 2 bytes, the
 * extended length (0, 2 or 8) and the mask (4). A stream ws finds malformed is closed by ws;
 * what is counted then no longer matters.
 */

/** Longest frame header: 2 bytes, a 64-bit length, the mask. */
const MAX_HEADER = 14;

export class FragmentCounter {
  readonly #head = new Uint8Array(MAX_HEADER);
  #headLength = 0;
  /** Payload bytes of the current frame still to come. */
  #skip = 0;
  /** The frame being skipped is the last of a data message (FIN, opcode 0 to 7). */
  #ends = false;
  #held = 0;

  /** Non-empty data frames of the message in progress whose header has been seen. */
  get held(): number {
    return this.#held;
  }

  /** The next bytes of the client's stream, in order. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - at);
        this.#skip -= n;
        at += n;
        if (this.#skip === 0) this.#frameDone();
        continue;
      }
      this.#head[this.#headLength++] = chunk[at++] ?? 0;
      if (this.#headLength < 2 || this.#headLength < headerLength(this.#head)) continue;
      this.#headLength = 0;
      const first = this.#head[0] ?? 0;
      const data = (first & 0x0f) < 8;
      const length = payloadLength(this.#head);
      if (data && length > 0) this.#held += 1;
      this.#ends = data && (first & 0x80) !== 0;
      this.#skip = length;
      if (length === 0) this.#frameDone();
    }
  }

  #frameDone(): void {
    if (this.#ends) this.#held = 0;
    this.#ends = false;
  }
}

/** The header's length, from its first two bytes. */
function headerLength(head: Uint8Array): number {
  const second = head[1] ?? 0;
  const len7 = second & 0x7f;
  const extended = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
  return 2 + extended + (second & 0x80 ? 4 : 0);
}

/** The declared payload length of a whole header (a 64-bit one as the nearest number). */
function payloadLength(head: Uint8Array): number {
  const len7 = (head[1] ?? 0) & 0x7f;
  if (len7 < 126) return len7;
  const view = new DataView(head.buffer, head.byteOffset, MAX_HEADER);
  return len7 === 126 ? view.getUint16(2) : Number(view.getBigUint64(2));
}
