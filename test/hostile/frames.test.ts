/**
 * Random and mutated frames against the real server process (issue 7): property-based with
 * fast-check, thousands of cases per run, each on its own connection and delivered whole,
 * one byte per write (Nagle off) or in random chunks. Afterwards a new client registers and
 * uploads, the files stored before are byte-identical with unchanged rows, nothing lies
 * outside the data folder's layout, and the server logged no internal error.
 * `npm run fuzz -- --seconds N` runs the same generators for longer.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  decodeResponse,
  encodeRequestHeader,
  PROTOCOL_VERSION,
  REQUEST_HEADER_SIZE,
  ResponseCode,
  ResponseFrameDecoder,
} from '../../lib/protocol';
import {
  arbCase,
  count,
  FUZZ_SERVER_ARGS,
  type FuzzContext,
  formatStats,
  newStats,
  runTcpCase,
} from '../support/frame-fuzz';
import {
  alive,
  type Baseline,
  expectConfined,
  expectHealthy,
  expectIntact,
  KiB,
  MiB,
  register,
  rssBytes,
  type ServerProcess,
  seedBaseline,
  sleep,
  startServerProcess,
  tcpConn,
} from '../support/hostile';

/** Property runs in CI; each run is a batch of 4..8 concurrent cases. */
const RUNS = Number(process.env.HOSTILE_FUZZ_RUNS ?? 300);

let srv: ServerProcess;
let base: Baseline;
let ctx: FuzzContext;

beforeAll(async () => {
  srv = await startServerProcess([...FUZZ_SERVER_ARGS]);
  const conn = await tcpConn(srv.port);
  base = await seedBaseline(conn, srv.data);
  const self = await register(conn, 'fuzzer');
  conn.close();
  ctx = { self, others: [base.alice.clientId, base.bob.clientId], maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD };
});

afterAll(async () => {
  await srv?.dispose();
});

/** After every attack: alive, healthy, nothing stored earlier touched, no stray files, no internal error. */
async function expectUnharmed(): Promise<void> {
  expect(alive(srv.pid), 'server process').toBe(true);
  await expectHealthy(() => tcpConn(srv.port), srv.data);
  expectIntact(srv.data, base.state);
  expectConfined(srv.data);
  expect(srv.output()).not.toMatch(/"error":"SERVER_ERR_INTERNAL"|"event":"internal-error"/);
}

/** Sends `bytes` one byte per flushed write, then waits (without closing our side) for the server to close. */
async function byteByByteUntilClosed(port: number, bytes: Uint8Array): Promise<number[]> {
  const sock = connect({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  sock.on('error', () => {});
  const decoder = new ResponseFrameDecoder();
  const codes: number[] = [];
  sock.on('data', (chunk: Buffer) => {
    for (const f of decoder.push(chunk)) codes.push(decodeResponse(f.header, f.payload).code);
  });
  const closed = new Promise<void>((r) => sock.once('close', () => r()));
  await new Promise<void>((r) => sock.once('connect', () => r()));
  for (let i = 0; i < bytes.length && !sock.destroyed; i++) {
    await new Promise<void>((r) => sock.write(bytes.subarray(i, i + 1), () => r()));
  }
  const t = setTimeout(() => sock.destroy(new Error('server kept the connection open')), 10_000);
  await closed;
  clearTimeout(t);
  return codes;
}

describe('hostile frames against the server process', () => {
  it('declared payloads up to 4 GiB on 48 connections at once: no allocation of that size, RSS stays flat', async () => {
    await sleep(300);
    const before = rssBytes(srv.pid);
    const sent = 256 * KiB;
    const codes = [1025, 1026, 1028, 1029, 1031];
    const sizes = [DEFAULT_MAX_REQUEST_PAYLOAD, 0xffff_ffff, 0x8000_0000, 0xffff_0000, 64 * MiB, 12 * MiB];
    const socks = await Promise.all(
      Array.from({ length: 48 }, async (_, i) => {
        const s = connect({ host: '127.0.0.1', port: srv.port });
        s.setNoDelay(true);
        s.on('error', () => {});
        await new Promise<void>((r) => s.once('connect', () => r()));
        const head = encodeRequestHeader({
          clientId: ctx.self.clientId,
          version: PROTOCOL_VERSION,
          code: codes[i % codes.length]!,
          payloadSize: sizes[i % sizes.length]!,
        });
        const body = Buffer.alloc(sent, i);
        // A 1028 whose fixed part claims a huge file: the content streams (or is refused).
        if (codes[i % codes.length] === 1028) body.writeUInt32LE(0xffff_fff0, 0);
        await new Promise<void>((r) => s.write(Buffer.concat([head, body]), () => r()));
        return s;
      }),
    );
    await sleep(800);
    const during = rssBytes(srv.pid);
    for (const s of socks) s.destroy();
    console.log(
      `server RSS: ${(before / MiB).toFixed(1)} MiB before, ${(during / MiB).toFixed(1)} MiB holding 48 huge declared payloads`,
    );
    // 48 x 256 KiB = 12 MiB really sent; allocating the declared sizes would be >= 48 x 12 MiB.
    expect(during - before).toBeLessThan(128 * MiB);
    await expectUnharmed();
  });

  it('a bad version, an unknown code or a declared payload over the limit, sent one byte at a time: one 1607, then the server closes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({
            version: fc.integer({ min: 0, max: 255 }).filter((v) => v !== PROTOCOL_VERSION),
            code: fc.integer({ min: 1025, max: 1031 }),
            size: fc.integer({ min: 0, max: 300 }),
          }),
          fc.record({
            version: fc.constant(PROTOCOL_VERSION),
            code: fc.integer({ min: 0, max: 0xffff }).filter((c) => c < 1025 || c > 1031),
            size: fc.integer({ min: 0, max: 300 }),
          }),
          fc.record({
            version: fc.constant(PROTOCOL_VERSION),
            code: fc.integer({ min: 1025, max: 1031 }),
            size: fc.integer({ min: DEFAULT_MAX_REQUEST_PAYLOAD + 1, max: 0xffff_ffff }),
          }),
        ),
        async ({ version, code, size }) => {
          const head = encodeRequestHeader({ clientId: ctx.self.clientId, version, code, payloadSize: size });
          expect(await byteByByteUntilClosed(srv.port, head)).toEqual([ResponseCode.ServerError]);
        },
      ),
      { numRuns: 40 },
    );
    await expectUnharmed();
  });

  it('a well-formed request split at every byte is answered exactly as when sent whole', async () => {
    // 1029 for a file never sent (1607, connection stays open): one byte at a time, then a
    // second copy; both answered, nothing closed.
    const sock = await tcpConn(srv.port);
    const frame = Buffer.alloc(REQUEST_HEADER_SIZE + 255);
    encodeRequestHeader(
      { clientId: ctx.self.clientId, version: PROTOCOL_VERSION, code: 1029, payloadSize: 255 },
      frame,
    );
    frame.write('never-sent.bin', REQUEST_HEADER_SIZE, 'latin1');
    sock.raw.socket.setNoDelay(true);
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < frame.length; i++) {
        await new Promise<void>((r) => sock.raw.socket.write(frame.subarray(i, i + 1), () => r()));
      }
      expect((await sock.next())?.code).toBe(ResponseCode.ServerError);
    }
    expect(sock.raw.closed).toBe(false);
    sock.close();
  });

  it(`random and mutated frames, whole, byte by byte and chunked (${RUNS} batches of 4-8 connections)`, async () => {
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(fc.array(arbCase(ctx.maxPayload), { minLength: 4, maxLength: 8 }), async (cases) => {
        const results = await Promise.all(cases.map((c) => runTcpCase(srv.port, ctx, c)));
        for (const r of results) {
          stats.cases++;
          if (r.responses.length === 0) count(stats, r.closedEarly ? 'closed' : 'none');
          for (const code of r.responses) count(stats, String(code));
        }
        expect(alive(srv.pid), 'server process').toBe(true);
      }),
      { numRuns: RUNS },
    );
    console.log(`server fuzz: ${formatStats(stats)}`);
    // The generators reach deep: keyed uploads get stored (1603) and refused (1607).
    expect(stats.outcomes.get(String(ResponseCode.FileReceived)) ?? 0).toBeGreaterThan(0);
    expect(stats.outcomes.get(String(ResponseCode.ServerError)) ?? 0).toBeGreaterThan(0);
    await expectUnharmed();
  });
});
