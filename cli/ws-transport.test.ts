/** The CLI's WebSocket transport: a bridge address that does not open says why in a sentence. */
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WsTransport } from './ws-transport';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function listening(s: net.Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as net.AddressInfo).port;
}

describe('WsTransport.connect failures', () => {
  it('wss:// to a server without TLS', async () => {
    const port = await listening(createHttpServer((_q, r) => r.end('x')));
    await expect(WsTransport.connect(`wss://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'CLIENT_ERR_UNREACHABLE',
      message: `Cannot reach the bridge at wss://127.0.0.1:${port}/: it does not answer TLS. A bridge without TLS takes ws://, not wss://.`,
    });
  });

  it('a server that hangs up on the WebSocket handshake (not the bridge)', async () => {
    const port = await listening(net.createServer((c) => c.on('data', () => c.destroy())));
    await expect(WsTransport.connect(`ws://127.0.0.1:${port}/`)).rejects.toThrow(
      /it closed the connection without answering the WebSocket handshake\. Is this the bridge's port \(8080 unless/,
    );
  });

  it('a server that answers the handshake in another protocol (the file server itself, not the bridge)', async () => {
    // What a file server's TCP port does with an HTTP request: binary answer bytes, then a close.
    const port = await listening(
      net.createServer((c) => c.once('data', () => c.end(Buffer.from([3, 0x47, 0x06, 0, 0, 0, 0])))),
    );
    await expect(WsTransport.connect(`ws://127.0.0.1:${port}/`)).rejects.toMatchObject({
      code: 'CLIENT_ERR_UNREACHABLE',
      message: `Cannot reach the bridge at ws://127.0.0.1:${port}/: that address did not answer as a WebSocket bridge (its answer is not HTTP). If it is the file server, give it without ws://, as --server 127.0.0.1:${port}.`,
    });
  });

  it('nothing listening', async () => {
    const port = await listening(net.createServer());
    servers.pop()!.close();
    await expect(WsTransport.connect(`ws://127.0.0.1:${port}/`)).rejects.toThrow(
      /the connection was refused\. Is the bridge running on that port\?/,
    );
  });
});
