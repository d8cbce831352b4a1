/** Opens the connection --server names: raw TCP to a file server, or WebSocket to a bridge. */
import { ClientError, type Transport } from '../lib/client';
import type { ServerAddress } from './args';
import { TcpTransport } from './tcp-transport';

/**
 * A transport the CLI can also close gracefully once all answers are in; a WebSocket one
 * also says how the bridge closed it (4010-4013: the invite was refused).
 */
export type CliTransport = Transport & {
  end?(): Promise<void>;
  readonly closeCode?: number | null;
  whenClosed?(): Promise<void>;
};

/** The one place that picks a transport by address kind (URL scheme). */
export async function openTransport(
  address: ServerAddress,
  opts: { invite?: string } = {},
): Promise<CliTransport> {
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

export function describeAddress(address: ServerAddress): string {
  return address.kind === 'ws'
    ? address.url
    : `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
}
