/**
 * How long the CLI lets a server keep it waiting (--timeout): lib/client's AnswerDeadline
 * (the clock, shared with the page's worker) around a CliTransport, with what the CLI adds:
 * the graceful end(), the WebSocket close code, and the sentence it says on a timeout.
 */
import { AnswerDeadline as Deadline } from '../lib/client/answer-deadline';
import { ClientError } from '../lib/client/errors';
import type { CliTransport } from './cli-transport';

export { DEFAULT_ANSWER_TIMEOUT_MS } from '../lib/client/answer-deadline';

export class AnswerDeadline extends Deadline<CliTransport> implements CliTransport {
  readonly #where: string;

  constructor(inner: CliTransport, ms: number, where: string) {
    super(inner, ms);
    this.#where = where;
    if (inner.end) this.end = () => this.#settleAll(inner.end!());
    if (inner.whenClosed) this.whenClosed = () => inner.whenClosed!();
  }

  end?: () => Promise<void>;
  whenClosed?: () => Promise<void>;

  get closeCode(): number | null {
    return this.inner.closeCode ?? null;
  }

  /** The error a caller reports instead of "connection closed" once timedOut. */
  timeoutError(cause?: unknown): ClientError {
    const s = this.timeoutMs / 1000;
    return new ClientError(
      'CLIENT_ERR_TIMEOUT',
      `The server at ${this.#where} kept us waiting ${s} s without answering or taking our data, so the connection was closed. ` +
        'It may be overloaded, or not a working file server; try again later (--timeout SECONDS waits longer).',
      { lostBecause: `no answer within ${s} s` },
      cause === undefined ? undefined : { cause },
    );
  }

  async #settleAll(p: Promise<void>): Promise<void> {
    this.stop();
    await p;
  }
}
