/** The CLI's WebSocket transport: a bridge address that does not open says why in a sentence. */
import { createServer as createHttpServer } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
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

describe('WsTransport against a hostile bridge', () => {
  const wss: WebSocketServer[] = [];
  afterEach(async () => {
    for (const w of wss.splice(0)) {
      for (const c of w.clients) c.terminate();
      await new Promise((r) => w.close(r));
    }
  });
  async function bridge(onConnection: (ws: import('ws').WebSocket) => void): Promise<string> {
    const w = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    wss.push(w);
    await new Promise((r) => w.once('listening', r));
    w.on('connection', onConnection);
    return `ws://127.0.0.1:${(w.address() as net.AddressInfo).port}/`;
  }

  it('a message larger than any the bridge sends (one frame, at most 4,118 bytes) closes the connection: nothing of it is held or handed on', async () => {
    const url = await bridge((ws) => {
      // 8 MiB in 1 MiB fragments: ws on our side would join up to 100 MiB by default.
      const part = Buffer.alloc(1024 * 1024, 0x41);
      for (let i = 0; i < 8; i++) ws.send(part, { binary: true, fin: i === 7 });
    });
    const t = await WsTransport.connect(url);
    expect(await t.receive()).toBeNull();
    await t.whenClosed();
    // ws closes with 1009 (Message Too Big) and reports its own side as 1006 (closed on error).
    expect([1006, 1009]).toContain(t.closeCode);
  });

  it("the bridge's close reason is shown escaped (no raw ESC or C1 control reaches the terminal)", async () => {
    const url = await bridge((ws) => ws.close(4000, '\u001b]0;owned\u0007\u009b2J'));
    const t = await WsTransport.connect(url);
    await t.whenClosed();
    const e = await t.send([new Uint8Array(1)]).catch((err: Error) => err);
    expect((e as Error).message).toContain('owned');
    expect((e as Error).message).not.toMatch(/[\u001b\u0007\u009b]/);
  });
});
