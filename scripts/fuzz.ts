/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--only server|bridge|v4]`
 *
 * The long version of test/hostile: starts the real server and bridge processes in a temp
 * folder, stores a baseline of files (v3, and a v4 one), then throws random and mutated v3
 * frames at the server (over TCP) and through the bridge (over WebSocket), and random and
 * mutated v4 cases both ways (test/support/v4-frame-fuzz.ts), until the time is up, a
 * quarter of the time each (`--only v4`: half over TCP, half through the bridge). With
 * --crash-rounds, it then kills the server with SIGKILL mid-work that many times.
 * Afterwards: both processes alive, a new client registers and uploads directly and through
 * the bridge, the baseline is byte-identical with unchanged rows, nothing lies outside the
 * data folder's layout, and the server logged no internal error. Exit code 0 = all held.
 * A failure prints fast-check's seed and counterexample; rerun with --seed to reproduce.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { DEFAULT_MAX_REQUEST_PAYLOAD } from '../lib/protocol';
import { parseCommandLine, value } from '../platform/options';
import { duration, integer, oneOf } from '../platform/validators';
import { spawnBridge } from '../test/bridge/helpers';
import {
  arbBridgeCase,
  arbCase,
  count,
  type FuzzContext,
  formatStats,
  newStats,
  runBridgeCase,
  runTcpCase,
} from '../test/support/frame-fuzz';
import {
  alive,
  expectConfined,
  expectHealthy,
  expectIntact,
  fileRows,
  hex,
  register,
  rssBytes,
  seedBaseline,
  sha256,
  snapshot,
  startServerProcess,
  tcpConn,
  wsConn,
} from '../test/support/hostile';
import { connectV4, newIdentity, nodeSha256, zeroSource } from '../test/support/v4-client';
import {
  arbV4BridgeCase,
  arbV4TcpCase,
  countV4,
  runV4BridgeCase,
  runV4TcpCase,
  V4_FUZZ_SERVER_ARGS,
  v4FuzzContext,
} from '../test/support/v4-frame-fuzz';

const FUZZ_OPTIONS = {
  seconds: value(duration(365 * 86_400), {
    arg: 'N',
    default: 60_000,
    help: 'how long to fuzz in all (default 60)',
  }),
  seed: value(integer(-(2 ** 31), 2 ** 32), {
    arg: 'S',
    help: 'fast-check seed, to replay a failure (default: random, printed)',
  }),
  only: value(oneOf(['server', 'bridge', 'v4']), {
    arg: 'WHAT',
    help: 'fuzz only the server (v3 over TCP), only the bridge (v3 over WebSocket), or only protocol v4 (both ways)',
  }),
} as const;

async function main(): Promise<number> {
  const { values } = parseCommandLine(FUZZ_OPTIONS, {
    usage: 'Usage: npm run fuzz -- [--seconds N] [--seed S] [--only server|bridge|v4]',
  });
  const seconds = values.seconds / 1000;
  const seed = values.seed ?? Math.floor(Math.random() * 2 ** 31);
  const doServer = values.only === undefined || values.only === 'server';
  const doBridge = values.only === undefined || values.only === 'bridge';
  const doV4 = values.only === undefined || values.only === 'v4';

  // V4_FUZZ_SERVER_ARGS is FUZZ_SERVER_ARGS and no cap on the v4 fuzz client's unfinished uploads.
  const srv = await startServerProcess([...V4_FUZZ_SERVER_ARGS]);
  const bridge = await spawnBridge([
    '--target',
    `127.0.0.1:${srv.port}`,
    '--max-per-ip',
    '200',
    '--max-connections',
    '256',
    '--max-pending-per-ip',
    '64',
  ]);
  process.stdout.write(
    `fuzz: seed ${seed}, ${seconds} s, server pid ${srv.pid} port ${srv.port}, bridge ${bridge.url}\n`,
  );
  let failed = false;
  try {
    const conn = await tcpConn(srv.port);
    const base = await seedBaseline(conn, srv.data);
    const self = await register(conn, 'fuzzer');
    conn.close();
    const ctx: FuzzContext = {
      self,
      others: [base.alice.clientId, base.bob.clientId],
      maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD,
    };
    // v4 needs a baseline file of its own (another v4 client) and the fuzz client's key.
    if (doV4) await storeV4('v4-baseline', 'baseline-v4.bin', srv.port, srv.data);
    const intact = doV4 ? snapshot(srv.data) : base.state;
    const v4ctx = doV4 ? await v4FuzzContext(srv.port) : null;
    const rss0 = rssBytes(srv.pid);
    // v4 runs over TCP and through the bridge: two parts of the time.
    const parts = (doServer ? 1 : 0) + (doBridge ? 1 : 0) + (doV4 ? 2 : 0);
    const share = (seconds / parts) * 1000;

    const run = async (what: string, property: fc.IAsyncProperty<[unknown]>) => {
      const t0 = Date.now();
      const result = await fc.check(property, {
        seed,
        numRuns: Number.MAX_SAFE_INTEGER,
        interruptAfterTimeLimit: share,
        markInterruptAsFailure: false,
      });
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (result.failed) {
        failed = true;
        process.stdout.write(`${what}: FAILED after ${result.numRuns} batches (${secs} s)\n`);
        process.stdout.write(`${fc.defaultReportMessage(result) ?? ''}\n`);
        const error = result.errorInstance;
        process.stdout.write(
          `The failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
        );
      } else process.stdout.write(`${what}: ${result.numRuns} batches in ${secs} s\n`);
    };

    if (doServer) {
      const stats = newStats();
      await run(
        'server (TCP)',
        fc.asyncProperty(fc.array(arbCase(ctx.maxPayload), { minLength: 4, maxLength: 8 }), async (cases) => {
          for (const r of await Promise.all(cases.map((c) => runTcpCase(srv.port, ctx, c)))) {
            stats.cases++;
            if (r.responses.length === 0) count(stats, r.closedEarly ? 'closed' : 'none');
            for (const code of r.responses) count(stats, String(code));
          }
          if (!alive(srv.pid)) throw new Error('the server process died');
        }) as fc.IAsyncProperty<[unknown]>,
      );
      process.stdout.write(`  ${formatStats(stats)}\n`);
    }
    if (doBridge) {
      const stats = newStats();
      await run(
        'bridge (WebSocket)',
        fc.asyncProperty(
          fc.array(arbBridgeCase(ctx.maxPayload), { minLength: 2, maxLength: 6 }),
          async (cases) => {
            for (const r of await Promise.all(cases.map((c) => runBridgeCase(bridge.url, ctx, c)))) {
              stats.cases++;
              count(stats, `close ${r.closeCode}`);
              for (const code of r.responses) count(stats, String(code));
            }
            if (!alive(bridge.pid)) throw new Error('the bridge process died');
          },
        ) as fc.IAsyncProperty<[unknown]>,
      );
      process.stdout.write(`  ${formatStats(stats)}\n`);
    }
    if (v4ctx) {
      const tcp = newStats();
      await run(
        'v4 server (TCP)',
        fc.asyncProperty(fc.array(arbV4TcpCase, { minLength: 3, maxLength: 6 }), async (cases) => {
          for (const r of await Promise.all(cases.map((c) => runV4TcpCase(srv.port, v4ctx, c))))
            countV4(tcp, r);
          if (!alive(srv.pid)) throw new Error('the server process died');
        }) as fc.IAsyncProperty<[unknown]>,
      );
      process.stdout.write(`  ${formatStats(tcp)}\n`);
      const ws = newStats();
      await run(
        'v4 bridge (WebSocket)',
        fc.asyncProperty(fc.array(arbV4BridgeCase, { minLength: 2, maxLength: 5 }), async (cases) => {
          for (const r of await Promise.all(cases.map((c) => runV4BridgeCase(bridge.url, v4ctx, c))))
            countV4(ws, r);
          if (!alive(bridge.pid)) throw new Error('the bridge process died');
          if (!alive(srv.pid)) throw new Error('the server process died');
        }) as fc.IAsyncProperty<[unknown]>,
      );
      process.stdout.write(`  ${formatStats(ws)}\n`);
    }

    // The aftermath: everything still works and nothing stored before was touched.
    const checks: Array<[string, () => unknown]> = [
      ['server alive', () => assert(alive(srv.pid))],
      ['bridge alive', () => assert(alive(bridge.pid))],
      ['new client uploads directly', () => expectHealthy(() => tcpConn(srv.port), srv.data)],
      ['new client uploads through the bridge', () => expectHealthy(() => wsConn(bridge.url), srv.data)],
      ...(doV4
        ? ([
            [
              'new v4 client stores a file byte-identical',
              () => storeV4('v4-after', 'after-v4.bin', srv.port, srv.data),
            ],
            [
              'every file the v4 fuzzer stored holds what its row says',
              () => {
                for (const r of fileRows(srv.data).filter((r) => hex(r.ID) === hex(v4ctx!.clientId)))
                  assert(
                    sha256(readFileSync(join(srv.data, 'files', r.PathName))) ===
                      (r as unknown as { Sha256: string }).Sha256,
                  );
              },
            ],
          ] as Array<[string, () => unknown]>)
        : []),
      ['baseline files and rows unchanged', () => expectIntact(srv.data, intact)],
      ['data folder layout', () => expectConfined(srv.data)],
      [
        'no internal error logged',
        () => assert(!/"error":"SERVER_ERR_INTERNAL"|"event":"internal-error"/.test(srv.output())),
      ],
      [
        'bridge never saw an invalid response (4007)',
        () => assert(!bridge.lines.some((l) => l.closeCode === 4007)),
      ],
    ];
    for (const [what, check] of checks) {
      try {
        await check();
        process.stdout.write(`ok    ${what}\n`);
      } catch (e) {
        failed = true;
        process.stdout.write(`FAIL  ${what}: ${(e as Error).message}\n`);
      }
    }
    const rss1 = rssBytes(srv.pid);
    process.stdout.write(`server RSS ${(rss0 / 2 ** 20).toFixed(1)} -> ${(rss1 / 2 ** 20).toFixed(1)} MiB\n`);
  } finally {
    await bridge.stop();
    await srv.dispose();
  }
  process.stdout.write(failed ? `fuzz: FAILED (seed ${seed})\n` : 'fuzz: all checks held\n');
  return failed ? 1 : 0;
}

/** A v4 upload by a fresh key; checks the SHA-256 the server reports and the bytes it stored. */
async function storeV4(name: string, fileName: string, port: number, data: string): Promise<void> {
  const s = await connectV4(port, await newIdentity(), () => {}, name);
  try {
    // zeroSource's bytes: two records and a bit, all zero (the SHA-256 below is of those).
    const size = 2 * 262_144 + 777;
    const r = await s.upload(zeroSource(fileName, size), { hash: nodeSha256 });
    const zeros = sha256(new Uint8Array(size));
    assert(hex(r.sha256) === zeros);
    const row = fileRows(data).find((f) => hex(f.ID) === hex(s.clientId) && f.FileName === fileName);
    assert(row !== undefined && sha256(readFileSync(join(data, 'files', row.PathName))) === zeros);
  } finally {
    await s.close();
  }
}

function assert(ok: boolean): void {
  if (!ok) throw new Error('does not hold');
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
