/** Opens the connection --server names: raw TCP to a file server, or WebSocket to a bridge. */
import { ClientError } from '../lib/client';
import { AnswerDeadline, DEFAULT_ANSWER_TIMEOUT_MS } from './answer-deadline';
import type { ServerAddress } from './args';
import type { CliTransport } from './cli-transport';
import { TcpTransport } from './tcp-transport';

export type { CliTransport } from './cli-transport';

/**
 * The one place that picks a transport by address kind (URL scheme). Every connection is
 * held to `timeoutMs` (--timeout): a server that keeps the CLI waiting that long is cut.
 */
export async function openTransport(
  address: ServerAddress,
  opts: { invite?: string; timeoutMs?: number } = {},
): Promise<AnswerDeadline> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
  return new AnswerDeadline(await openRaw(address, opts), timeoutMs, describeAddress(address));
}

async function openRaw(address: ServerAddress, opts: { invite?: string }): Promise<CliTransport> {
  if (address.kind === 'ws') {
    const { WsTransport } = await import('./ws-transport');
    try {
      return await WsTransport.connect(address.url, { invite: opts.invite });
    } catch (e) {
      if (e instanceof ClientError) throw e;
      throw new ClientError('CLIENT_ERR_UNREACHABLE', (e as Error).message, {}, { cause: e });
    }
  }
  return TcpTransport.connect(address.host, address.port);
}

/** `e`, or the timeout's own error when the deadline closed `transport` (the session saw a close). */
export function orTimeout(e: unknown, transport: AnswerDeadline | null | undefined): unknown {
  if (!transport?.timedOut || !(e instanceof ClientError) || e.code === 'CLIENT_ERR_CANCELLED') return e;
  return transport.timeoutError(e);
}

export function describeAddress(address: ServerAddress): string {
  return address.kind === 'ws'
    ? address.url
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
