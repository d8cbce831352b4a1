/** The bridge in process, in front of fake TCP targets: relaying, refusals, limits, timeouts. */
import { connect } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import type { ConnectionRecord } from '../../bridge/log';
import {
  CloseCode,
  decodeResponseHeader,
  encodeResponse,
  RESPONSE_HEADER_SIZE,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol';
import {
  echoTarget,
  type FakeTarget,
  freePort,
  rawClient,
  requestFrame,
  startBridge,
  startTarget,
  type TestBridge,
  until,
} from './helpers';

/** The code of a whole response frame (and the message is exactly one frame). */
function responseCode(message: Buffer): number {
  const h = decodeResponseHeader(message);
  expect(message.length).toBe(RESPONSE_HEADER_SIZE + h.payloadSize);
  return h.code;
}

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(
  onSocket = echoTarget(),
  overrides: Parameters<typeof startBridge>[1] = {},
): Promise<{ target: FakeTarget; b: TestBridge }> {
  const target = await startTarget(onSocket);
  cleanups.push(() => target.close());
  const b = await startBridge(target.port, overrides);
  cleanups.push(() => b.close());
  return { target, b };
}

describe('relaying', () => {
  test('request frames reach the target unchanged and each response comes back as one message', async () => {
    const received: Uint8Array[] = [];
    const { b } = await setup(echoTarget(received));
    const c = await rawClient(b.url);
    const frames = [
      requestFrame(RequestCode.Register, 255, 1),
      requestFrame(RequestCode.SendFile, 70_000, 2),
    ];
    for (const f of frames) {
      c.ws.send(f);
      const reply = await c.next();
      expect(responseCode(reply)).toBe(ResponseCode.Thanks);
    }
    expect(received.map((p) => p.length)).toEqual([255, 70_000]);
    expect(Buffer.from(received[1]!).equals(frames[1]!.subarray(23))).toBe(true);
    c.ws.close(1000);
    expect((await c.closed).code).toBe(1000);
  });

  test('responses split across TCP writes or packed into one write arrive one per message', async () => {
    const id = new Uint8Array(16).fill(7);
    const one = Buffer.from(encodeResponse({ code: ResponseCode.Registered, clientId: id }));
    const { b } = await setup((s) => {
      s.once('data', async () => {
        // byte by byte, then three frames in one write
        for (const byte of one) {
          s.write(Buffer.of(byte));
          await new Promise((r) => setTimeout(r, 1));
        }
        s.write(Buffer.concat([one, one, one]));
      });
    });
    const c = await rawClient(b.url);
    c.ws.send(requestFrame());
    for (let i = 0; i < 4; i++) expect((await c.next()).equals(one)).toBe(true);
    expect(c.messages).toHaveLength(0);
  });

  test("the server's last response reaches the browser before the close (4006)", async () => {
    const { b } = await setup((s) => {
      s.once('data', () => s.end(encodeResponse({ code: ResponseCode.ServerError })));
    });
    const c = await rawClient(b.url);
    c.ws.send(requestFrame());
    const closed = await c.closed;
    expect(c.messages.map(responseCode)).toEqual([ResponseCode.ServerError]);
    expect(closed.code).toBe(CloseCode.TargetClosed);
    expect(closed.reason).toMatch(/file server closed/i);
  });

  test('the browser closing: what it sent still reaches the server, then the TCP side ends', async () => {
    let got = 0;
    const ended = new Promise<void>((resolve) => {
      void setup((s) => {
        s.on('data', (d) => {
          got += d.length;
        });
        s.on('end', () => resolve());
      }).then(async ({ b }) => {
        const c = await rawClient(b.url);
        for (let i = 0; i < 20; i++) c.ws.send(requestFrame(RequestCode.SendFile, 100_000));
        c.ws.close(1000);
      });
    });
    await ended;
    expect(got).toBe(20 * (23 + 100_000));
  });

  test('a target sending an invalid response frame: 4007', async () => {
    const { b } = await setup((s) => {
      const bad = Buffer.alloc(RESPONSE_HEADER_SIZE);
      bad.writeUInt8(3, 0);
      bad.writeUInt16LE(1600, 1);
      bad.writeUInt32LE(0xffffffff, 3);
      s.once('data', () => s.write(bad));
    });
    const c = await rawClient(b.url);
    c.ws.send(requestFrame());
    expect((await c.closed).code).toBe(CloseCode.TargetProtocolError);
  });

  test('one line per connection is logged, with sizes and the close code, never payload bytes', async () => {
    const { b } = await setup();
    const c = await rawClient(b.url);
    c.ws.send(requestFrame(RequestCode.CrcOk, 255, 0x5a));
    await c.next();
    c.ws.close(1000, 'bye');
    await c.closed;
    await until(() => b.logs.some((l) => l.event === 'connection'), 'the log line');
    const line = b.logs.find((l) => l.event === 'connection') as ConnectionRecord;
    expect(line).toMatchObject({
      peer: '127.0.0.1',
      origin: 'http://localhost:3000',
      bytesIn: 23 + 255,
      bytesOut: RESPONSE_HEADER_SIZE + 16,
      closeCode: 1000,
      closedBy: 'client',
    });
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(b.logs)).not.toMatch(/ZZZZ|"type":"Buffer"/);
  });
});

describe('refusals, each with its close code; the TCP side is closed too', () => {
  const cases: [string, () => Buffer | string, number][] = [
    ['a text message', () => 'hello', CloseCode.TextNotAllowed],
    ['a message shorter than a header', () => Buffer.alloc(10), CloseCode.MalformedFrame],
    [
      'declared size smaller than the message',
      () => {
        const f = requestFrame(RequestCode.CrcOk, 255);
        f.writeUInt32LE(254, 19);
        return f;
      },
      CloseCode.MalformedFrame,
    ],
    [
      'declared size larger than the message',
      () => {
        const f = requestFrame(RequestCode.CrcOk, 255);
        f.writeUInt32LE(256, 19);
        return f;
      },
      CloseCode.MalformedFrame,
    ],
    ['an unknown request code', () => requestFrame(1600, 0), CloseCode.MalformedFrame],
    [
      'a wrong version',
      () => {
        const f = requestFrame();
        f.writeUInt8(2, 16);
        return f;
      },
      CloseCode.MalformedFrame,
    ],
    [
      'a declared payload over the limit',
      () => {
        const f = requestFrame(RequestCode.SendFile, 0);
        f.writeUInt32LE(2_000_000, 19);
        return f;
      },
      CloseCode.FrameTooLarge,
    ],
  ];

  for (const [what, make, code] of cases) {
    test(`${what}: ${code}`, async () => {
      const { target, b } = await setup(echoTarget(), { maxPayload: 1_000_000 });
      const c = await rawClient(b.url);
      await until(() => target.sockets.length === 1, 'the TCP connection');
      c.ws.send(make());
      const closed = await c.closed;
      expect(closed.code).toBe(code);
      expect(closed.reason.length).toBeGreaterThan(10);
      await target.closed(0);
    });
  }

  test('a message larger than --max-payload: 1009 from ws, before it is buffered', async () => {
    const { target, b } = await setup(echoTarget(), { maxPayload: 100_000 });
    const c = await rawClient(b.url);
    c.ws.send(requestFrame(RequestCode.SendFile, 200_000));
    expect((await c.closed).code).toBe(CloseCode.MessageTooBig);
    await target.closed(0);
  });

  test('a disallowed Origin: 4003, and no TCP connection is made', async () => {
    const { target, b } = await setup();
    const c = await rawClient(b.url, { origin: 'https://evil.example' });
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.OriginNotAllowed);
    expect(closed.reason).toMatch(/origin/i);
    expect(target.sockets).toHaveLength(0);
    // A client without Origin (not a browser) is let through; '*' allows any origin.
    const noOrigin = await rawClient(b.url, { origin: null });
    noOrigin.ws.send(requestFrame());
    await noOrigin.next();
    const any = await startBridge(target.port, { origins: ['*'] });
    cleanups.push(() => any.close());
    const evil = await rawClient(any.url, { origin: 'https://evil.example' });
    evil.ws.send(requestFrame());
    await evil.next();
  });

  test('too many connections in total: 4004; a slot frees when one closes', async () => {
    const { target, b } = await setup(echoTarget(), { maxConnections: 2 });
    const first = await rawClient(b.url);
    const second = await rawClient(b.url);
    const third = await rawClient(b.url);
    expect((await third.closed).code).toBe(CloseCode.TooManyConnections);
    expect(target.sockets).toHaveLength(2);
    first.ws.close();
    await first.closed;
    await until(() => b.bridge.connections() === 1, 'the slot to free');
    const fourth = await rawClient(b.url);
    fourth.ws.send(requestFrame());
    await fourth.next();
    second.ws.send(requestFrame());
    await second.next();
  });

  test('too many connections from one address: 4004, other addresses still served', async () => {
    const { b } = await setup(echoTarget(), { maxPerIp: 1, trustProxy: true });
    const xff = (ip: string) => ({ headers: { 'X-Forwarded-For': `203.0.113.9, ${ip}` } });
    const a1 = await rawClient(b.url, xff('198.51.100.1'));
    const a2 = await rawClient(b.url, xff('198.51.100.1'));
    expect((await a2.closed).code).toBe(CloseCode.TooManyConnections);
    const other = await rawClient(b.url, xff('198.51.100.2'));
    other.ws.send(requestFrame());
    await other.next();
    a1.ws.send(requestFrame());
    await a1.next();
    await until(() => b.logs.some((l) => l.event === 'connection'), 'the refusal log');
    expect(b.logs.find((l) => l.event === 'connection')).toMatchObject({
      peer: '198.51.100.1',
      closeCode: 4004,
    });
  });

  test('per-IP limit without --trust-proxy counts the socket address', async () => {
    const { b } = await setup(echoTarget(), { maxPerIp: 1 });
    const spoof = { headers: { 'X-Forwarded-For': '198.51.100.7' } };
    await rawClient(b.url, spoof);
    const second = await rawClient(b.url, { headers: { 'X-Forwarded-For': '198.51.100.8' } });
    expect((await second.closed).code).toBe(CloseCode.TooManyConnections);
  });
});

describe('target availability', () => {
  test('target down: 4005 "file server unreachable"; target up again: new connections work', async () => {
    const port = await freePort();
    // No reuse of /healthz results (the default reuses one for 5 s), so the second sees the target up.
    const b = await startBridge(port, { healthCacheMs: 0 });
    cleanups.push(() => b.close());
    const c = await rawClient(b.url);
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.TargetUnreachable);
    expect(closed.reason).toMatch(/file server unreachable/i);
    const health = await fetch(`http://127.0.0.1:${b.port}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({ target: 'unreachable' });

    const target = await startTarget(echoTarget(), port);
    cleanups.push(() => target.close());
    const again = await rawClient(b.url);
    again.ws.send(requestFrame());
    expect(responseCode(await again.next())).toBe(ResponseCode.Thanks);
    const up = await fetch(`http://127.0.0.1:${b.port}/healthz`);
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ target: 'reachable' });
  });

  test('messages sent before the target connection is up are relayed, in order', async () => {
    const received: Uint8Array[] = [];
    const { b } = await setup(echoTarget(received));
    const c = await rawClient(b.url);
    for (let i = 0; i < 5; i++) c.ws.send(requestFrame(RequestCode.CrcOk, 255, i));
    for (let i = 0; i < 5; i++) await c.next();
    expect(received.map((p) => p[0])).toEqual([0, 1, 2, 3, 4]);
  });
});

describe('timeouts and shutdown', () => {
  test('idle connection: 4008', async () => {
    const { target, b } = await setup(echoTarget(), { idleTimeoutMs: 300 });
    const c = await rawClient(b.url);
    c.ws.send(requestFrame());
    await c.next();
    const closed = await c.closed;
    expect(closed.code).toBe(CloseCode.IdleTimeout);
    await target.closed(0);
  });

  test('a connection that never completes its handshake is dropped', async () => {
    const { b } = await setup(echoTarget(), { handshakeTimeoutMs: 300 });
    const sock = connect(b.port, '127.0.0.1');
    sock.on('error', () => {});
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n'); // headers never finish
    await new Promise<void>((r) => sock.once('close', () => r()));
    expect(sock.destroyed).toBe(true);
  });

  test('bridge shutdown: every WebSocket gets 1001 and every TCP side is ended', async () => {
    const { target, b } = await setup();
    const clients = [await rawClient(b.url), await rawClient(b.url)];
    for (const c of clients) {
      c.ws.send(requestFrame());
      await c.next();
    }
    await b.close();
    for (const c of clients) expect((await c.closed).code).toBe(CloseCode.GoingAway);
    await target.closed(0);
    await target.closed(1);
    await expect(rawClient(b.url)).rejects.toThrow();
  });

  test('plain HTTP on the WebSocket port gets 426', async () => {
    const { b } = await setup();
    const res = await fetch(`http://127.0.0.1:${b.port}/`);
    expect(res.status).toBe(426);
  });
});
