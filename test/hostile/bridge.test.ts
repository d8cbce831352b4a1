/**
 * Hostile WebSocket traffic through the real bridge process in front of the real server
 * process (issue 7): the same random and mutated frames as frames.test.ts, as one message
 * per frame, re-cut into messages at random, fragmented, or after a text message. The
 * bridge stays up, a browser-like client uploading at the same time is unaffected, and
 * afterwards clients through the bridge and directly register and upload while the files
 * stored before are intact. Then the file server is killed under the bridge mid-upload:
 * the WebSocket gets 4006, the bridge keeps running and serves new connections once the
 * server is back.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  encodeRequest,
  encodeSendFilePrefix,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import {
  arbBridgeCase,
  count,
  type FuzzContext,
  formatStats,
  newStats,
  runBridgeCase,
} from '../support/frame-fuzz';
import {
  alive,
  type Baseline,
  expectConfined,
  expectHealthy,
  expectIntact,
  KiB,
  MiB,
  NO_PEER_LIMITS,
  randomName,
  reconnect,
  register,
  type ServerProcess,
  seedBaseline,
  sleep,
  startServerProcess,
  tcpConn,
  until,
  upload,
  wsConn,
} from '../support/hostile';

const RUNS = Number(process.env.HOSTILE_BRIDGE_RUNS ?? 120);

let srv: ServerProcess;
let bridge: SpawnedBridge;
let base: Baseline;
let ctx: FuzzContext;

beforeAll(async () => {
  srv = await startServerProcess(['--max-connections', '256', ...NO_PEER_LIMITS]);
  bridge = await spawnBridge([
    '--target',
    `127.0.0.1:${srv.port}`,
    '--max-per-ip',
    '200',
    '--max-connections',
    '256',
    '--connect-timeout',
    '2',
  ]);
  const conn = await tcpConn(srv.port);
  base = await seedBaseline(conn, srv.data);
  const self = await register(conn, 'bridge-fuzzer');
  conn.close();
  ctx = { self, others: [base.alice.clientId, base.bob.clientId], maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD };
});

afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
});

async function expectUnharmed(): Promise<void> {
  expect(alive(bridge.pid), 'bridge process').toBe(true);
  expect(alive(srv.pid), 'server process').toBe(true);
  await expectHealthy(() => wsConn(bridge.url), srv.data);
  await expectHealthy(() => tcpConn(srv.port), srv.data);
  expectIntact(srv.data, base.state);
  expectConfined(srv.data);
}

describe('hostile frames through the bridge', () => {
  it(`random, mutated, re-cut and fragmented messages (${RUNS} batches of 2-6 connections); a client uploading meanwhile is unaffected`, async () => {
    // The bystander: a browser-like client uploading 6 MiB through the bridge meanwhile.
    const bystander = (async () => {
      const c = await wsConn(bridge.url);
      const me = await register(c, randomName('bystander'));
      const data = randomBytes(6 * MiB);
      const r = await upload(c, me, 'big.bin', data, 64 * KiB);
      c.close();
      return { r, sum: cksum(data) };
    })();
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbBridgeCase(ctx.maxPayload), { minLength: 2, maxLength: 6 }),
        async (cases) => {
          const results = await Promise.all(cases.map((c) => runBridgeCase(bridge.url, ctx, c)));
          for (const r of results) {
            stats.cases++;
            count(stats, `close ${r.closeCode}`);
            for (const code of r.responses) count(stats, String(code));
          }
          expect(alive(bridge.pid), 'bridge process').toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
    console.log(`bridge fuzz: ${formatStats(stats)}`);
    const { r, sum } = await bystander;
    expect(r).toMatchObject({ code: ResponseCode.FileReceived, cksum: sum });
    // The bridge never saw an invalid response from the server.
    expect(bridge.lines.filter((l) => l.closeCode === 4007)).toEqual([]);
    await expectUnharmed();
  });

  it('the file server killed under the bridge mid-upload: 4006 for the browser, the bridge carries on and serves again once the server is back', async () => {
    const c = await wsConn(bridge.url);
    const me = await register(c, randomName('cut-off'));
    // A 200 MiB file announced; packets flow until the server dies.
    const packet = 64 * KiB;
    const total = 3200;
    let sent = 0;
    const sending = (async () => {
      for (let n = 1; n <= total; n++) {
        const prefix = encodeSendFilePrefix(
          {
            clientId: me.clientId,
            contentSize: total * packet,
            origSize: total * packet - 1,
            packetNumber: n,
            totalPackets: total,
            fileName: 'long.bin',
          },
          packet,
        );
        if (c.ws.readyState !== c.ws.OPEN) return;
        await c.sendFrame(Buffer.concat([prefix, randomBytes(packet)]));
        sent++;
      }
    })();
    await until(() => sent >= 40, 'packets to flow');
    await srv.stop('SIGKILL');
    const closed = await c.closed;
    await sending;
    expect(closed.code).toBe(4006);
    expect(closed.reason).toMatch(/file server/i);
    expect(alive(bridge.pid)).toBe(true);

    // While the server is down: a clear refusal, and /healthz says so.
    const down = await wsConn(bridge.url);
    expect((await down.closed).code).toBe(4005);
    const health = await fetch(`http://127.0.0.1:${bridge.port}/healthz`);
    expect(health.status).toBe(503);

    await srv.restart({ samePort: true });
    expect(alive(bridge.pid)).toBe(true);
    const back = await wsConn(bridge.url);
    const again = await reconnect(back, me);
    const data = randomBytes(300 * KiB);
    expect(await upload(back, again, 'long.bin', data, 64 * KiB)).toMatchObject({
      code: ResponseCode.FileReceived,
      cksum: cksum(data),
    });
    await back.sendFrame(
      encodeRequest({ code: RequestCode.CrcOk, clientId: me.clientId, fileName: 'long.bin' }),
    );
    expect((await back.next())?.code).toBe(ResponseCode.Thanks);
    back.close();
    await sleep(50);
    await expectUnharmed();
  });
});
