/**
 * Random and mutated protocol v4 input against the real server process, directly over TCP
 * and through the real bridge (test/support/v4-frame-fuzz.ts): before the handshake, in it
 * (a mutated ClientAuth), and after a real one (hostile UploadStarts, aborts, unknown
 * messages and bad seals under the real session key, and real STREAM records reordered,
 * dropped, duplicated, cut, flipped or spliced), each case on its own connection and
 * delivered whole, one byte per write or in random chunks. Every byte the server sends back
 * must be valid v4 (or, after a preamble that is not one, valid v3), it must close after our
 * FIN, and the bridge must close with a code it documents. Afterwards the server is alive, a
 * new v4 client uploads a file that is stored byte-identical, the baseline (v3 and v4 files
 * of other clients) is byte-identical with unchanged rows, every file the fuzzer got stored
 * holds what its row says, nothing lies outside the data folder's layout, no internal error
 * was logged and the server's RSS stayed bounded. `npm run fuzz -- --only v4` runs the same
 * generators for longer.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { formatStats, newStats } from '../support/frame-fuzz';
import {
  alive,
  expectConfined,
  expectHealthy,
  expectIntact,
  fileRows,
  hex,
  MiB,
  rssBytes,
  type ServerProcess,
  type StoredState,
  seedBaseline,
  sha256,
  sleep,
  snapshot,
  startServerProcess,
  tcpConn,
  tempDir,
} from '../support/hostile';
import { connectV4, fileSource, newIdentity, nodeSha256 } from '../support/v4-client';
import {
  arbV4BridgeCase,
  arbV4TcpCase,
  countV4,
  runV4BridgeCase,
  runV4TcpCase,
  type Step,
  V4_FUZZ_SERVER_ARGS,
  type V4FuzzContext,
  v4FuzzContext,
} from '../support/v4-frame-fuzz';

/** Property runs in CI; each run is a batch of 3..6 concurrent cases. */
const RUNS = Number(process.env.HOSTILE_V4_FUZZ_RUNS ?? 150);
/** Through the bridge: batches of 2..5 cases. */
const BRIDGE_RUNS = Number(process.env.HOSTILE_V4_FUZZ_BRIDGE_RUNS ?? 60);

let srv: ServerProcess;
let bridge: SpawnedBridge;
let work: { path: string; remove(): void };
let state: StoredState;
let ctx: V4FuzzContext;
let rssBefore = 0;

/** A v4 upload by `name`'s own fresh key of `bytes`; returns the SHA-256 the server reported. */
async function v4Upload(name: string, fileName: string, bytes: Uint8Array): Promise<string> {
  const path = join(work.path, fileName);
  writeFileSync(path, bytes);
  const s = await connectV4(srv.port, await newIdentity(), () => {}, name);
  try {
    const r = await s.upload(fileSource(path), { hash: nodeSha256 });
    return hex(r.sha256);
  } finally {
    await s.close();
  }
}

beforeAll(async () => {
  work = tempDir('sft-v4fuzz-');
  srv = await startServerProcess([...V4_FUZZ_SERVER_ARGS]);
  bridge = await spawnBridge([
    ...['--target', `127.0.0.1:${srv.port}`, '--max-per-ip', '200', '--max-connections', '256'],
    ...['--max-pending-per-ip', '64'],
  ]);
  // The baseline: v3 files of two clients, and a v4 file (two records and a bit) of a third.
  const conn = await tcpConn(srv.port);
  await seedBaseline(conn, srv.data);
  conn.close();
  const bytes = randomBytes(2 * 262_144 + 777);
  expect(await v4Upload('v4-baseline', 'baseline-v4.bin', bytes)).toBe(sha256(bytes));
  state = snapshot(srv.data);
  expect([...state.files.values()]).toContain(sha256(bytes));
  ctx = await v4FuzzContext(srv.port);
  await sleep(200);
  rssBefore = rssBytes(srv.pid);
});

afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
  work?.remove();
});

describe('hostile protocol v4 input against the server process', () => {
  it('one fatal Error, the last thing sent, with more frames queued behind the one that caused it', async () => {
    // Found by npm run fuzz (seed 825410954): an UploadStart refused as too large (a
    // non-fatal Error) with its Chunks sent at once; the first Chunk, with no upload open, is
    // answered with a sealed fatal Error, but the frames queued behind it were still handled:
    // each later Chunk got a fatal Error of its own, their seals finished in any order, and
    // the client saw a Sealed frame that did not open.
    const upload = (seed: number, size: number): Step => ({
      kind: 'upload',
      seed,
      size,
      name: { name: 'too-large.bin', lengthField: null },
      id: 'fresh',
      resume: false,
      mismatch: 'none',
      recordSize: 262_144,
      wait: false,
      ops: [],
    });
    for (let round = 0; round < 10; round++) {
      // Over the default --max-file-size-v4 (64 GiB): Error 7, then its three Chunks.
      const steps: Step[] = [upload(round, 2 ** 36 + 1), upload(round + 1, 300_000)];
      await runV4TcpCase(srv.port, ctx, { c: { kind: 'session', steps }, delivery: { kind: 'whole' } });
    }
  });

  it(`random and mutated v4 cases over TCP, whole, byte by byte and chunked (${RUNS} batches of 3-6 connections)`, async () => {
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(fc.array(arbV4TcpCase, { minLength: 3, maxLength: 6 }), async (cases) => {
        for (const r of await Promise.all(cases.map((c) => runV4TcpCase(srv.port, ctx, c))))
          countV4(stats, r);
        expect(alive(srv.pid), 'server process').toBe(true);
      }),
      { numRuns: RUNS },
    );
    console.log(`v4 server fuzz: ${formatStats(stats)}`);
    // The generators reach deep: uploads are stored, records refused, seals and frames refused.
    expect(stats.outcomes.get('UploadDone') ?? 0, 'uploads stored').toBeGreaterThan(0);
    expect(stats.outcomes.get('UploadReady') ?? 0, 'uploads started').toBeGreaterThan(0);
    expect(stats.outcomes.get('alert 1') ?? 0, 'framing errors').toBeGreaterThan(0);
    expect(stats.outcomes.get('error 13') ?? 0, 'records refused').toBeGreaterThan(0);
  });

  it(`random and mutated v4 cases through the bridge (${BRIDGE_RUNS} batches of 2-5 WebSockets)`, async () => {
    const stats = newStats();
    await fc.assert(
      fc.asyncProperty(fc.array(arbV4BridgeCase, { minLength: 2, maxLength: 5 }), async (cases) => {
        for (const r of await Promise.all(cases.map((c) => runV4BridgeCase(bridge.url, ctx, c))))
          countV4(stats, r);
        expect(alive(bridge.pid), 'bridge process').toBe(true);
        expect(alive(srv.pid), 'server process').toBe(true);
      }),
      { numRuns: BRIDGE_RUNS },
    );
    console.log(`v4 bridge fuzz: ${formatStats(stats)}`);
    expect(stats.outcomes.get('close 4001') ?? 0, "the bridge's frame check").toBeGreaterThan(0);
    expect(stats.outcomes.get('UploadReady') ?? 0, 'uploads started through the bridge').toBeGreaterThan(0);
  });

  it('afterwards: alive, a new v4 client stores a file byte-identical, nothing stored before touched, no internal error, RSS bounded', async () => {
    expect(alive(srv.pid), 'server process').toBe(true);
    expect(alive(bridge.pid), 'bridge process').toBe(true);
    const bytes = randomBytes(3 * 262_144 + 5);
    expect(await v4Upload('v4-after', 'after-v4.bin', bytes)).toBe(sha256(bytes));
    const row = fileRows(srv.data).find((r) => r.FileName === 'after-v4.bin');
    expect(row?.Verified).toBe(1);
    expect(sha256(readFileSync(join(srv.data, 'files', row!.PathName)))).toBe(sha256(bytes));
    await expectHealthy(() => tcpConn(srv.port), srv.data);
    expectIntact(srv.data, state);
    // Every file the fuzzer got stored holds exactly what its row's SHA-256 says.
    const mine = fileRows(srv.data).filter((r) => hex(r.ID) === hex(ctx.clientId));
    for (const r of mine)
      expect(sha256(readFileSync(join(srv.data, 'files', r.PathName))), r.PathName).toBe(
        (r as unknown as { Sha256: string }).Sha256,
      );
    expectConfined(srv.data);
    expect(srv.output()).not.toMatch(/"error":"SERVER_ERR_INTERNAL"|"event":"internal-error"/);
    expect(
      bridge.lines.some((l) => l.closeCode === 4007),
      'bridge saw an invalid response (4007)',
    ).toBe(false);
    const rssAfter = rssBytes(srv.pid);
    console.log(
      `server RSS ${(rssBefore / MiB).toFixed(1)} -> ${(rssAfter / MiB).toFixed(1)} MiB; the fuzzer stored ${mine.length} files`,
    );
    expect(rssAfter - rssBefore).toBeLessThan(128 * MiB);
  });
});
