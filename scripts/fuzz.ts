/**
 * `npm run fuzz -- [--seconds N] [--seed S] [--only server|bridge]`
 *
 * The long version of test/hostile: starts the real server and bridge processes in a temp
 * folder, stores a baseline of files, then throws random and mutated frames at the server
 * (over TCP) and through the bridge (over WebSocket) until the time is up, half the time
 * each. With --crash-rounds, it then kills the server with SIGKILL mid-work that many times.
 * Afterwards: both processes alive, a new client registers and uploads directly and through
 * the bridge, the baseline is byte-identical with unchanged rows, nothing lies outside the
 * data folder's layout, and the server logged no internal error. Exit code 0 = all held.
 * A failure prints fast-check's seed and counterexample; rerun with --seed to reproduce.
 */
import fc from 'fast-check';
import { DEFAULT_MAX_REQUEST_PAYLOAD } from '../lib/protocol';
import { parseCommandLine, value } from '../platform/options';
import { duration, integer, oneOf } from '../platform/validators';
import { spawnBridge } from '../test/bridge/helpers';
import {
  arbBridgeCase,
  arbCase,
  count,
  FUZZ_SERVER_ARGS,
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
  register,
  rssBytes,
  seedBaseline,
  startServerProcess,
  tcpConn,
  wsConn,
} from '../test/support/hostile';

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
  only: value(oneOf(['server', 'bridge']), {
    arg: 'WHAT',
    help: 'fuzz only the server (TCP) or only the bridge (WebSocket)',
  }),
} as const;

async function main(): Promise<number> {
  const { values } = parseCommandLine(FUZZ_OPTIONS, {
    usage: 'Usage: npm run fuzz -- [--seconds N] [--seed S] [--only server|bridge]',
  });
  const seconds = values.seconds / 1000;
  const seed = values.seed ?? Math.floor(Math.random() * 2 ** 31);
  const doServer = values.only !== 'bridge';
  const doBridge = values.only !== 'server';

  const srv = await startServerProcess([...FUZZ_SERVER_ARGS]);
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
    const rss0 = rssBytes(srv.pid);
    const share = (doServer && doBridge ? seconds / 2 : seconds) * 1000;

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

    // The aftermath: everything still works and nothing stored before was touched.
    const checks: Array<[string, () => unknown]> = [
      ['server alive', () => assert(alive(srv.pid))],
      ['bridge alive', () => assert(alive(bridge.pid))],
      ['new client uploads directly', () => expectHealthy(() => tcpConn(srv.port), srv.data)],
      ['new client uploads through the bridge', () => expectHealthy(() => wsConn(bridge.url), srv.data)],
      ['baseline files and rows unchanged', () => expectIntact(srv.data, base.state)],
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
