/**
 * How long the CLI lets a server keep it waiting (--timeout): a Transport wrapper that closes
 * the connection when the CLI has been waiting on the server this long without the server
 * taking any of its bytes.
 *
 * "Waiting" is any receive() or send() not yet settled. The clock restarts when the CLI
 * sends (a new request, a new answer to wait for), when a send() settles (the server took
 * those bytes, or has room for them), and when the CLI starts waiting after more than a
 * second of waiting for nothing (its own work is not the server's delay). Bytes *from* the
 * server never restart it: a server that drips its answer a byte at a time, or sends
 * anything but the answer, is cut as one that sends nothing. A server that stops reading is
 * cut too (its sends never settle).
 *
 * What the CLI waits for is small (a handshake message, UploadReady, UploadDone, a v3
 * response) and the server computes its hashes while the file arrives, so an honest server
 * answers in well under the default. The one long silence of our own, hashing a file's kept
 * part before resuming, is bounded by the server's idle timeout (60 s) anyway.
 */
import { ClientError } from '../lib/client/errors';
import type { CliTransport } from './cli-transport';

export const DEFAULT_ANSWER_TIMEOUT_MS = 120_000;
/**
 * A pause longer than this with nothing pending is the CLI's own work (a key made, a file
 * opened): the clock restarts when it waits again. Between two receive() calls of a stream
 * being read there is no pause at all (the next call follows in the same tick).
 */
const OWN_WORK_MS = 1_000;

export class AnswerDeadline implements CliTransport {
  readonly #inner: CliTransport;
  readonly #ms: number;
  readonly #where: string;
  #pending = 0;
  /** When the clock last restarted. */
  #since = performance.now();
  /** When the last wait ended (#pending fell to 0). */
  #idleSince = performance.now();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #timedOut = false;

  constructor(inner: CliTransport, ms: number, where: string) {
    this.#inner = inner;
    this.#ms = ms;
    this.#where = where;
    if (inner.end) this.end = () => this.#settleAll(inner.end!());
    if (inner.whenClosed) this.whenClosed = () => inner.whenClosed!();
  }

  end?: () => Promise<void>;
  whenClosed?: () => Promise<void>;

  get closeCode(): number | null {
    return this.#inner.closeCode ?? null;
  }

  /** Whether this wrapper closed the connection because the server kept us waiting. */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** The error a caller reports instead of "connection closed" once timedOut. */
  timeoutError(cause?: unknown): ClientError {
    const s = this.#ms / 1000;
    return new ClientError(
      'CLIENT_ERR_TIMEOUT',
      `The server at ${this.#where} kept us waiting ${s} s without answering or taking our data, so the connection was closed. ` +
        'It may be overloaded, or not a working file server; try again later (--timeout SECONDS waits longer).',
      { lostBecause: `no answer within ${s} s` },
      cause === undefined ? undefined : { cause },
    );
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    this.#begin();
    this.#since = performance.now();
    return this.#inner.send(parts).finally(() => {
      this.#since = performance.now();
      this.#done();
    });
  }

  receive(): Promise<Uint8Array | null> {
    this.#begin();
    return this.#inner.receive().finally(() => this.#done());
  }

  close(): void {
    this.#stop();
    this.#inner.close();
  }

  async #settleAll(p: Promise<void>): Promise<void> {
    this.#stop();
    await p;
  }

  #begin(): void {
    const now = performance.now();
    if (this.#pending++ === 0 && now - this.#idleSince > OWN_WORK_MS) this.#since = now;
    if (this.#timer === null && !this.#timedOut) this.#arm(this.#ms);
  }

  #done(): void {
    if (--this.#pending === 0) this.#idleSince = performance.now();
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#check(), Math.max(ms, 1));
    this.#timer.unref?.();
  }

  /** One timer, re-armed lazily: no clearTimeout per send. */
  #check(): void {
    this.#timer = null;
    if (this.#pending === 0) return;
    const left = this.#since + this.#ms - performance.now();
    if (left > 0) {
      this.#arm(left);
      return;
    }
    this.#timedOut = true;
    this.#inner.close();
  }

  #stop(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
