import { once } from 'node:events';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readProxyHeader } from '../../platform/proxy-header-reader';
import {
  encodeProxyHeader,
  Pp2Type,
  ProxyProtocolError,
  tcpProxyHeader,
} from '../../platform/proxy-protocol';

const servers: net.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A server on 127.0.0.1 that reads the header, then collects the stream until the peer ends. */
async function listen(options: Parameters<typeof readProxyHeader>[1]) {
  const outcomes: Promise<{ header?: unknown; stream?: Buffer; code?: string }>[] = [];
  const server = net.createServer((socket) => {
    outcomes.push(
      readProxyHeader(socket, options).then(
        async ({ header }) => {
          const chunks: Buffer[] = [];
          socket.on('data', (c: Buffer) => chunks.push(c));
          socket.resume();
          await once(socket, 'end');
          socket.end();
          return { header, stream: Buffer.concat(chunks) };
        },
        (e: unknown) => {
          socket.destroy();
          return { code: e instanceof ProxyProtocolError ? e.code : String(e) };
        },
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const port = (server.address() as net.AddressInfo).port;
  return { port, outcome: async () => await outcomes[0]! };
}

async function send(port: number, chunks: Uint8Array[], opts: { gapMs?: number; end?: boolean } = {}) {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.setNoDelay(true);
  await once(socket, 'connect');
  for (const c of chunks) {
    socket.write(c);
    await new Promise((r) => setTimeout(r, opts.gapMs ?? 5));
  }
  if (opts.end !== false) socket.end();
  return socket;
}

const STREAM = new TextEncoder().encode('the v3 request bytes');
const HEADER = encodeProxyHeader(
  tcpProxyHeader({ address: '2001:db8::7', port: 40000 }, { address: '127.0.0.1', port: 1256 }, [
    { type: Pp2Type.SFT_INVITE, value: new TextEncoder().encode('token') },
  ]),
);

describe('readProxyHeader on real sockets', () => {
  it('decodes a header that arrives in pieces and hands over the rest of the stream', async () => {
    const { port, outcome } = await listen({ timeoutMs: 2000 });
    const all = Buffer.concat([HEADER, STREAM]);
    // Split inside the header and so that one write carries its end and the stream's start.
    await send(port, [
      all.subarray(0, 5),
      all.subarray(5, 20),
      all.subarray(20, HEADER.length + 3),
      all.subarray(HEADER.length + 3),
    ]);
    const r = await outcome();
    expect(r.header).toMatchObject({ family: 'tcp6', source: { address: '2001:db8::7', port: 40000 } });
    expect(r.stream).toEqual(Buffer.from(STREAM));
  });

  it('refuses a direct client at its first byte when the header is required', async () => {
    const { port, outcome } = await listen({ timeoutMs: 2000 });
    await send(port, [STREAM], { end: false });
    expect(await outcome()).toEqual({ code: 'PP2_BAD_SIGNATURE' });
  });

  it('passes a direct client through unchanged when the header is optional', async () => {
    const { port, outcome } = await listen({ timeoutMs: 2000, optional: true });
    await send(port, [STREAM.subarray(0, 1), STREAM.subarray(1)]);
    expect(await outcome()).toEqual({ header: undefined, stream: Buffer.from(STREAM) });
  });

  it('still decodes a header when optional', async () => {
    const { port, outcome } = await listen({ timeoutMs: 2000, optional: true });
    await send(port, [HEADER.subarray(0, 3), HEADER.subarray(3), STREAM]);
    const r = await outcome();
    expect(r.header).toMatchObject({ command: 'proxy', family: 'tcp6' });
    expect(r.stream).toEqual(Buffer.from(STREAM));
  });

  it('a peer that stops mid-header hits the deadline; one that closes is incomplete', async () => {
    const slow = await listen({ timeoutMs: 150 });
    const s = await send(slow.port, [HEADER.subarray(0, 10)], { end: false });
    expect(await slow.outcome()).toEqual({ code: 'PP2_TIMEOUT' });
    s.destroy();
    const closing = await listen({ timeoutMs: 2000 });
    await send(closing.port, [HEADER.subarray(0, 20)]);
    expect(await closing.outcome()).toEqual({ code: 'PP2_INCOMPLETE' });
  });

  it('a declared length over the maximum fails without waiting for the body', async () => {
    const { port, outcome } = await listen({ timeoutMs: 5000, maxLength: 16 });
    const started = Date.now();
    await send(port, [HEADER.subarray(0, 16)], { end: false });
    expect(await outcome()).toEqual({ code: 'PP2_TOO_LONG' });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
