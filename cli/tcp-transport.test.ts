import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client';
import { TcpTransport } from './tcp-transport';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server on an ephemeral port whose connection handler the test supplies. */
async function listen(onConnection: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('TcpTransport', () => {
  it('writes frame parts in order and hands back what the server sends', async () => {
    const port = await listen((s) => {
      let got = Buffer.alloc(0);
      s.on('data', (d) => {
        got = Buffer.concat([got, d]);
        if (got.length === 6) s.end(Buffer.concat([got, Buffer.from('!')]));
      });
    });
    const t = await TcpTransport.connect('127.0.0.1', port);
    await t.send([new Uint8Array([1, 2]), new Uint8Array([3])]);
    await t.send([new Uint8Array([4, 5, 6])]);
    let echoed = Buffer.alloc(0);
    for (let c = await t.receive(); c !== null; c = await t.receive()) echoed = Buffer.concat([echoed, c]);
    expect([...echoed]).toEqual([1, 2, 3, 4, 5, 6, 33]);
    // Closed: receive() keeps answering null, send() rejects with CONNECTION_CLOSED.
    expect(await t.receive()).toBeNull();
    await expect(t.send([new Uint8Array(1)])).rejects.toMatchObject({ code: 'CLIENT_ERR_CONNECTION_CLOSED' });
  });

  it('waits for drain when the socket is over its high-water mark, and moves all the bytes', async () => {
    let received = 0;
    let release: () => void = () => {};
    const paused = new Promise<void>((r) => {
      release = r;
    });
    const port = await listen((s) => {
      s.pause();
      paused.then(() => s.resume());
      s.on('data', (d) => {
        received += d.length;
      });
    });
    const t = await TcpTransport.connect('127.0.0.1', port, { highWaterMark: 64 * 1024 });
    const part = new Uint8Array(256 * 1024);
    let blocked = false;
    let sent = 0;
    // With the server not reading, some send() must stay pending until it reads again.
    while (!blocked && sent < 256) {
      const p = t.send([part]);
      const state = await Promise.race([
        p.then(() => 'done'),
        new Promise((r) => setTimeout(() => r('pending'), 50)),
      ]);
      sent++;
      if (state === 'pending') {
        blocked = true;
        release();
        await p;
      }
    }
    expect(blocked).toBe(true);
    await t.end();
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toBe(sent * part.length);
  });

  it('stops reading while 64 chunks wait unread, and hands over every byte once they are taken', async () => {
    const MiB = 1024 * 1024;
    let written = 0;
    let stalled = false;
    const port = await listen((s) => {
      void (async () => {
        for (let i = 0; i < 64 && !s.destroyed; i++) {
          written += MiB;
          if (s.write(Buffer.alloc(MiB, i))) continue;
          const drained = await Promise.race([
            new Promise<boolean>((r) => s.once('drain', () => r(true))),
            new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
          ]);
          // Nobody reads: the first stall is the measure; then the reads below resume it.
          if (!drained && !stalled) {
            stalled = true;
            await new Promise((r) => s.once('drain', r));
          }
        }
        s.end();
      })();
    });
    const t = await TcpTransport.connect('127.0.0.1', port);
    for (let i = 0; i < 40 && !stalled; i++) await new Promise((r) => setTimeout(r, 50));
    expect(stalled).toBe(true);
    // 64 chunks of at most 64 KiB, the kernel's buffers and the server's own.
    expect(written).toBeLessThan(24 * MiB);
    let got = 0;
    let inOrder = true;
    for (let c = await t.receive(); c !== null; c = await t.receive()) {
      for (let k = 0; k < c.length; k += 4096) if (c[k] !== Math.floor((got + k) / MiB)) inOrder = false;
      got += c.length;
    }
    expect(got).toBe(64 * MiB);
    expect(inOrder).toBe(true);
  });

  it('close() makes a pending receive() resolve null', async () => {
    const port = await listen(() => {});
    const t = await TcpTransport.connect('127.0.0.1', port);
    const pending = t.receive();
    t.close();
    expect(await pending).toBeNull();
  });

  it('a reset connection says what ended it in details.lostBecause, apart from the sentence', async () => {
    const port = await listen((s) => s.on('data', () => s.resetAndDestroy()));
    const t = await TcpTransport.connect('127.0.0.1', port);
    await t.send([new Uint8Array([1])]);
    expect(await t.receive()).toBeNull();
    const err = await t.send([new Uint8Array(1)]).catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'CLIENT_ERR_CONNECTION_CLOSED',
      details: { lostBecause: 'read ECONNRESET' },
      message: `The connection to the server at 127.0.0.1:${port} is closed (read ECONNRESET).`,
    });
  });

  it('an unreachable server is CLIENT_ERR_UNREACHABLE with the address in the sentence', async () => {
    const port = await listen(() => {});
    await new Promise((r) => servers.pop()!.close(r));
    const err = await TcpTransport.connect('127.0.0.1', port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe('CLIENT_ERR_UNREACHABLE');
    expect((err as ClientError).message).toBe(
      `Cannot reach the server at 127.0.0.1:${port}: the connection was refused. Is the server running on that port?`,
    );
  });
});
