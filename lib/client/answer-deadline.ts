/**
 * How long a client lets a server keep it waiting: a Transport wrapper that closes the
 * connection when the client has been waiting on the server this long without the server
 * taking any of its bytes. The CLI (--timeout, cli/answer-deadline.ts) and the page's worker
 * (browser/page-transport.ts) both wrap their transports in it.
 *
 * "Waiting" is any receive() or send() not yet settled. The clock restarts when the client
 * sends (a new request, a new answer to wait for), when a send() settles (the server took
 * those bytes, or has room for them), when the transport reports that the peer took more of
 * the bytes it holds (`taken`, for a WebSocket whose send() settles before its buffer drained),
 * and when the client starts waiting after more than a second of waiting for nothing (its own
 * work is not the server's delay). Bytes *from* the server never restart it: a server that
 * drips its answer a byte at a time, or sends anything but the answer, is cut as one that
 * sends nothing. A server that stops reading is cut too (its sends never settle).
 *
 * What a client waits for is small (a handshake message, UploadReady, UploadDone, a v3
 * response) and the server computes its hashes while the file arrives, so an honest server
 * answers in well under the default. The one long silence of our own, hashing a file's kept
 * part before resuming, is bounded by the server's idle timeout (60 s) anyway.
 *
 * Runtime-neutral: the standard setTimeout/clearTimeout and performance.now of browsers and
 * Node, nothing else.
 */
import type { Transport } from './transport';

export const DEFAULT_ANSWER_TIMEOUT_MS = 120_000;
/**
 * A pause longer than this with nothing pending is the client's own work (a key made, a file
 * opened): the clock restarts when it waits again. Between two receive() calls of a stream
 * being read there is no pause at all (the next call follows in the same tick).
 */
const OWN_WORK_MS = 1_000;

export interface AnswerDeadlineOptions {
  /**
   * How many bytes the peer has taken so far, when the transport knows more than its send()s
   * say (a browser WebSocket: sent less bufferedAmount). Read only when the clock runs out: a
   * number that grew since the last look restarts it.
   */
  taken?: () => number;
}

export class AnswerDeadline<T extends Transport = Transport> implements Transport {
  /** The wrapped transport. */
  readonly inner: T;
  /** How long the server may keep us waiting, in milliseconds. */
  readonly timeoutMs: number;
  readonly #taken: (() => number) | undefined;
  #lastTaken = 0;
  #pending = 0;
  /** When the clock last restarted. */
  #since = performance.now();
  /** When the last wait ended (#pending fell to 0). */
  #idleSince = performance.now();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timedOut = false;

  constructor(inner: T, ms: number, opts: AnswerDeadlineOptions = {}) {
    this.inner = inner;
    this.timeoutMs = ms;
    this.#taken = opts.taken;
    if (this.#taken) this.#lastTaken = this.#taken();
  }

  /** Whether this wrapper closed the connection because the server kept us waiting. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    this.#begin();
    this.#since = performance.now();
    return this.inner.send(parts).finally(() => {
      this.#since = performance.now();
      this.#done();
    });
  }

  receive(): Promise<Uint8Array | null> {
    this.#begin();
    return this.inner.receive().finally(() => this.#done());
  }

  close(): void {
    this.stop();
    this.inner.close();
  }

  /**
   * Stops the clock that runs now (a graceful end the caller waits for on its own terms); a
   * later send() or receive() starts it again.
   */
  stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #begin(): void {
    const now = performance.now();
    if (this.#pending++ === 0 && now - this.#idleSince > OWN_WORK_MS) this.#since = now;
    if (this.#timer === null && !this.#timedOut) this.#arm(this.timeoutMs);
  }

  #done(): void {
    if (--this.#pending === 0) this.#idleSince = performance.now();
  }

  #arm(ms: number): void {
    const timer = setTimeout(() => this.#check(), Math.max(ms, 1));
    // Node: the deadline alone does not keep the process alive (a browser's timer is a number).
    (timer as { unref?: () => void }).unref?.();
    this.#timer = timer;
  }

  /** One timer, re-armed lazily: no clearTimeout per send. */
  #check(): void {
    this.#timer = null;
    if (this.#pending === 0) return;
    if (this.#taken) {
      const taken = this.#taken();
      if (taken !== this.#lastTaken) {
        this.#lastTaken = taken;
        this.#since = performance.now();
      }
    }
    const left = this.#since + this.timeoutMs - performance.now();
    if (left > 0) {
      this.#arm(left);
      return;
    }
    this.#timedOut = true;
    this.inner.close();
  }
}
