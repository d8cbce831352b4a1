/**
 * The worker's connection: the bridge's WebSocket (ws-transport.ts) held to an answer
 * deadline (lib/client/answer-deadline.ts, the CLI's --timeout clock): a bridge or server
 * that keeps the page waiting that long, without answering or taking its data, has the
 * connection closed, which the worker then treats as interrupted (the page reconnects and
 * resumes by itself). Bytes the browser still holds count as taken once they leave its
 * buffer (a WebSocket's send() settles before they are on the network).
 */
import { AnswerDeadline, DEFAULT_ANSWER_TIMEOUT_MS } from '../lib/client/answer-deadline';
import { ClientError } from '../lib/client/errors';
import type { Transport } from '../lib/client/transport';
import { WsTransport, type WsTransportOptions } from './ws-transport';

/** How long the server may keep the page waiting: the CLI's default. */
export const PAGE_ANSWER_TIMEOUT_MS = DEFAULT_ANSWER_TIMEOUT_MS;

/** The sentence the page says when its deadline closed the connection. */
export function stoppedAnsweringSentence(ms: number): string {
  return `The server stopped answering: it kept this page waiting ${ms / 1000} s without answering or taking its data, so the page closed the connection.`;
}

/** What the worker reads of its connection besides the Transport contract. */
export interface BridgeConnection {
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void>;
  /** How the socket closed when the peer closed it (undefined while open or after a local close). */
  readonly closeInfo: { code: number; reason: string } | undefined;
  /** Bytes handed to send() that the browser has not put on the network yet. */
  readonly bufferedAmount: number;
  readonly isOpen: boolean;
  /** The deadline closed the connection: the server kept us waiting. */
  readonly timedOut: boolean;
  readonly timeoutMs: number;
  /** The page closed the connection because the bridge broke the protocol (a sentence). */
  readonly protocolError: string | undefined;
}

/** A connection the worker's uploads and handshakes run on. */
export type WorkerTransport = Transport & BridgeConnection;

export class PageTransport extends AnswerDeadline<WsTransport> implements BridgeConnection {
  constructor(inner: WsTransport, ms: number = PAGE_ANSWER_TIMEOUT_MS) {
    super(inner, ms, { taken: () => inner.bytesTaken });
  }

  /** Opens the bridge's WebSocket (WsTransport.connect) and holds it to the deadline. */
  static async connect(
    url: string,
    opts: WsTransportOptions & { answerTimeoutMs?: number } = {},
  ): Promise<PageTransport> {
    return new PageTransport(await WsTransport.connect(url, opts), opts.answerTimeoutMs);
  }

  get closed(): Promise<void> {
    return this.inner.closed;
  }

  get closeInfo(): { code: number; reason: string } | undefined {
    return this.inner.closeInfo;
  }

  get bufferedAmount(): number {
    return this.inner.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.inner.isOpen;
  }

  get protocolError(): string | undefined {
    return this.inner.protocolError;
  }
}

/**
 * The error an upload or a handshake reports instead of the session's "connection closed"
 * when the page itself closed `transport`: CLIENT_ERR_TIMEOUT with the sentence when the
 * deadline did (the page treats it as an interrupted connection), CLIENT_ERR_PROTOCOL when the
 * bridge broke the protocol. Anything else, and a cancel, is left as it is.
 */
export function transportFailure(
  e: unknown,
  transport: Pick<BridgeConnection, 'timedOut' | 'timeoutMs' | 'protocolError'> | undefined,
): unknown {
  if (!transport || (e instanceof ClientError && e.code === 'CLIENT_ERR_CANCELLED')) return e;
  if (transport.protocolError !== undefined)
    return new ClientError('CLIENT_ERR_PROTOCOL', transport.protocolError, {}, { cause: e });
  if (!transport.timedOut) return e;
  const s = transport.timeoutMs / 1000;
  return new ClientError(
    'CLIENT_ERR_TIMEOUT',
    stoppedAnsweringSentence(transport.timeoutMs),
    { lostBecause: `no answer within ${s} s` },
    { cause: e },
  );
}
