/**
 * `npm run bench`: every upload path measured against its physical limit, side by side in
 * one run (absolute figures drift on a shared machine; the ratios hold). See README
 * "Performance". Flags:
 *   --size MiB      upload size for the CLI, browser and bridge paths (default 1024)
 *   --quick         32 MiB everywhere, memory at 8 vs 32 MiB, concurrency 10 x 2 MiB (CI: proves it works)
 *   --only LIST     comma-separated: limits,cli,browser,memory,concurrency,bridge
 *   --json PATH     where to write the figures (default bench-results/bench-<timestamp>.json)
 *   --clients N --client-mib M   concurrency shape (default 100 x 10 MiB)
 * Exit status 1 only when something fails functionally (an upload not verified, a process
 * crashing); a missed performance target is reported, never an error.
 * Profiling: SFT_BENCH_SERVER_FLAGS / SFT_BENCH_BRIDGE_FLAGS / SFT_BENCH_CLI_FLAGS add node
 * flags to those processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { benchBridge } from '../bridge/bench';
import { flag, list, parseCommandLine, value } from '../platform/options';
import { oneOf, positiveInteger, text } from '../platform/validators';
import { webBuildIsFresh } from '../scripts/web-build';
import { browserLimits } from './browser-limits';
import { CHROMIUM } from './chromium';
import { type ConcurrencyRun, concurrency } from './concurrency';
import { diskWrite, jsCksum, loopbackTcp, nodeAesDecrypt, nodeAesEncrypt, type RateAndCpu } from './limits';
import { killAll, ProcGroup, ROOT, startBridge, startServer, sumValues } from './procs';
import { type BrowserRun, browserUpload, type CliRun, cliUpload, randomFile } from './uploads';

const MiB = 1024 * 1024;
const SECTIONS = ['limits', 'cli', 'browser', 'memory', 'concurrency', 'bridge'] as const;
type Section = (typeof SECTIONS)[number];

const TARGET_CLI = 0.85;
const TARGET_BROWSER = 0.8;
const TARGET_RSS_GROWTH_MIB = 20;

const BENCH_OPTIONS = {
  size: value(positiveInteger, {
    arg: 'MiB',
    help: 'upload size for the CLI, browser and bridge paths (default 1024, 32 with --quick)',
  }),
  quick: flag({
    help: '32 MiB everywhere, memory at 8 vs 32 MiB, concurrency 10 x 2 MiB (CI: proves it works)',
  }),
  only: list(oneOf(SECTIONS), {
    arg: 'LIST',
    default: SECTIONS,
    help: `comma-separated sections: ${SECTIONS.join(',')}`,
  }),
  json: value(text, {
    arg: 'PATH',
    help: 'where to write the figures (default bench-results/bench-<timestamp>.json)',
  }),
  clients: value(positiveInteger, {
    arg: 'N',
    help: 'concurrency: clients at once (default 100, 10 with --quick)',
  }),
  'client-mib': value(positiveInteger, {
    arg: 'M',
    help: 'concurrency: MiB per client (default 10, 2 with --quick)',
  }),
} as const;

const { values: flags } = parseCommandLine(BENCH_OPTIONS, { usage: 'Usage: npm run bench -- [options]' });

const quick = flags.quick;
const size = flags.size ?? (quick ? 32 : 1024);
const smallSize = quick ? Math.min(8, size) : Math.min(100, size);
const limitMiB = quick ? 32 : 256;
const clients = flags.clients ?? (quick ? 10 : 100);
const clientMiB = flags['client-mib'] ?? (quick ? 2 : 10);
const only = new Set<Section>(flags.only);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const jsonPath = resolve(flags.json ?? join(ROOT, 'bench-results', `bench-${stamp}.json`));

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('exit', killAll);

const work = mkdtempSync(join(tmpdir(), 'sft-bench-'));
const failures: string[] = [];
const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);

/** Runs one measured step; a functional failure is recorded and the bench goes on. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
  log(`${what} ...`);
  const t0 = performance.now();
  try {
    const r = await fn();
    log(`${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    failures.push(`${what}: ${msg}`);
    log(`${what}: FAILED: ${msg}`);
    return undefined;
  }
}

async function ensureBuild(): Promise<void> {
  // Another engineer's `next build` may hold the build lock: wait for it (up to ~4 min), then
  // use its output if it is fresh, or build ourselves.
  for (let attempt = 1; ; attempt++) {
    if (webBuildIsFresh(ROOT)) return;
    log('the production build is stale or missing: next build ...');
    const r = spawnSync(join(ROOT, 'node_modules/.bin/next'), ['build'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (r.status === 0) return;
    const out = `${r.stdout}\n${r.stderr}`;
    if (/Another next build process is already running/.test(out) && attempt < 16) {
      log('another next build is running; waiting 15 s');
      await new Promise((res) => setTimeout(res, 15_000));
      continue;
    }
    throw new Error(`next build failed:\n${out}`);
  }
}

const f = (n: number | null | undefined, digits = 0) =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-';
const pct = (r: number | null | undefined) =>
  typeof r === 'number' && Number.isFinite(r) ? `${(r * 100).toFixed(0)}%` : '-';

/**
 * The most the CLI -> server path can do on this machine whatever the code: CBC encryption is
 * serial (one core at most), the disk takes what it takes, and the work no implementation
 * can skip (AES encrypt, AES decrypt, cksum on both sides, the loopback TCP copies, the
 * disk write) must fit in the machine's cores, measured here one by one.
 */
function cliPathCeiling(l: {
  nodeAesEncryptMiBps: number;
  nodeAesEncrypt64kMiBps: number;
  nodeAesDecryptMiBps: number;
  nodeAesDecrypt64kMiBps: number;
  jsCksumMiBps: number;
  loopbackTcp: RateAndCpu;
  disk: RateAndCpu;
}): { MiBps: number; cpuSecondsPerGiB: number } {
  const perGiB = (mibps: number) => 1024 / mibps;
  // Each at its best call size: a ceiling must not charge for our own choices.
  const enc = Math.max(l.nodeAesEncryptMiBps, l.nodeAesEncrypt64kMiBps);
  const dec = Math.max(l.nodeAesDecryptMiBps, l.nodeAesDecrypt64kMiBps);
  const cpuSecondsPerGiB =
    perGiB(enc) +
    perGiB(dec) +
    2 * perGiB(l.jsCksumMiBps) +
    l.loopbackTcp.cpuSecondsPerGiB +
    l.disk.cpuSecondsPerGiB;
  const byCpu = (cpus().length * 1024) / cpuSecondsPerGiB;
  return { MiBps: Math.min(enc, l.disk.MiBps, byCpu), cpuSecondsPerGiB };
}

const rows: [string, string, string, string][] = [];
const row = (section: string, measure: string, value: string, note = '') =>
  rows.push([section, measure, value, note]);
const targets: { target: string; value: string; pass: boolean | null }[] = [];

async function main(): Promise<void> {
  const started = new Date();
  const load0 = loadavg();
  log(
    `sizes: ${size} MiB (memory ${smallSize} vs ${size} MiB), concurrency ${clients} x ${clientMiB} MiB; work dir ${work}`,
  );
  const result: Record<string, unknown> = {
    started: started.toISOString(),
    command: `npm run bench --${process.argv.slice(2).length ? ` ${process.argv.slice(2).join(' ')}` : ''}`,
    quick,
    sizeMiB: size,
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, chromium: CHROMIUM },
    loadAverageStart: load0,
  };

  // 1. Limits.
  let aesEnc: number | undefined;
  let cliCeiling: { MiBps: number; cpuSecondsPerGiB: number } | undefined;
  let webLimit: number | undefined;
  if (only.has('limits') || only.has('cli') || only.has('browser')) {
    const limits = await step('limits (Node)', async () => ({
      nodeAesEncryptMiBps: nodeAesEncrypt(limitMiB * MiB),
      // For reference: Node allocates a fresh output buffer per call, and smaller calls stay
      // in cache. The CLI in 64 KiB slices was no faster end to end (more calls per byte).
      nodeAesEncrypt64kMiBps: nodeAesEncrypt(limitMiB * MiB, 64 * 1024),
      nodeAesDecrypt64kMiBps: nodeAesDecrypt(limitMiB * MiB, 64 * 1024),
      nodeAesDecryptMiBps: nodeAesDecrypt(limitMiB * MiB),
      loopbackTcp: await loopbackTcp((quick ? 64 : 1024) * MiB),
      jsCksumMiBps: jsCksum(limitMiB * MiB),
      disk: diskWrite(work, limitMiB * MiB),
    }));
    const browser =
      only.has('limits') || only.has('browser')
        ? await step('limits (Chromium)', () => browserLimits(limitMiB))
        : undefined;
    aesEnc = limits?.nodeAesEncryptMiBps;
    if (limits) cliCeiling = cliPathCeiling(limits);
    // WebSocket at the message size the app sends (1 MiB packets): the browser's best.
    if (browser) webLimit = Math.min(browser.webCryptoAesCbc, browser.webSocketSend1m);
    result.limits = { totalMiB: limitMiB, ...limits, chromium: browser };
    row(
      '1 limits',
      'Node AES-256-CBC encrypt (1 core, 1 MiB calls)',
      `${f(limits?.nodeAesEncryptMiBps)} MiB/s`,
      `${f(limits?.nodeAesEncrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    row(
      '1 limits',
      'Node AES-256-CBC decrypt (1 MiB calls)',
      `${f(limits?.nodeAesDecryptMiBps)} MiB/s`,
      `${f(limits?.nodeAesDecrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    row(
      '1 limits',
      'loopback TCP (1 MiB writes)',
      `${f(limits?.loopbackTcp.MiBps)} MiB/s`,
      `${f(limits?.loopbackTcp.cpuSecondsPerGiB, 1)} CPU-s/GiB, both ends`,
    );
    row('1 limits', 'JS cksum (WebAssembly)', `${f(limits?.jsCksumMiBps)} MiB/s`);
    row(
      '1 limits',
      'disk write, fdatasync per 32 MiB (as the server)',
      `${f(limits?.disk.MiBps)} MiB/s`,
      `${f(limits?.disk.cpuSecondsPerGiB, 1)} CPU-s/GiB`,
    );
    row(
      '1 limits',
      'Chromium WebCrypto AES-CBC, 64 KiB / 512 KiB calls',
      `${f(browser?.webCryptoAesCbc)} / ${f(browser?.webCryptoAesCbc512k)} MiB/s`,
      'the app encrypts 512 KiB per call',
    );
    row(
      '1 limits',
      'Chromium WebSocket send, 64 KiB / 1 MiB messages',
      `${f(browser?.webSocketSend)} / ${f(browser?.webSocketSend1m)} MiB/s`,
      'the app sends 1 MiB packets',
    );
  }

  // 2 and 4: the CLI, fresh server per size.
  const cliRuns: Record<number, CliRun | undefined> = {};
  const needCli = only.has('cli') || only.has('memory');
  if (needCli) {
    const sizes = only.has('memory') && smallSize !== size ? [smallSize, size] : [size];
    for (const mib of only.has('cli') || only.has('memory') ? sizes : []) {
      const file = await step(`random file ${mib} MiB`, () => randomFile(work, mib));
      if (file) cliRuns[mib] = await step(`CLI -> server ${mib} MiB`, () => cliUpload(work, file, mib));
    }
  }
  if (only.has('cli')) {
    const r = cliRuns[size];
    const ratio = r && aesEnc ? r.MiBps / aesEnc : undefined;
    row(
      '2 CLI',
      `CLI -> server ${size} MiB (real CLI, its own send time)`,
      `${f(r?.MiBps)} MiB/s`,
      `wall ${f(r?.wallSeconds, 1)} s incl. start+register`,
    );
    row('2 CLI', 'ratio to Node AES encrypt', pct(ratio), `target >= ${pct(TARGET_CLI)}`);
    row('2 CLI', 'CPU seconds: CLI / server', `${f(r?.cliCpuSeconds, 1)} / ${f(r?.serverCpuSeconds, 1)} s`);
    row(
      '2 CLI',
      'ceiling here: min(AES, disk, 2 cores / unavoidable CPU)',
      `${f(cliCeiling?.MiBps)} MiB/s`,
      cliCeiling && aesEnc && r
        ? `${pct(cliCeiling.MiBps / aesEnc)} of AES; unavoidable ${f(cliCeiling.cpuSecondsPerGiB, 1)} CPU-s/GiB; CLI at ${pct(r.MiBps / cliCeiling.MiBps)} of it`
        : '',
    );
    targets.push({
      target: `CLI >= ${pct(TARGET_CLI)} of Node AES encrypt`,
      value: pct(ratio),
      pass: ratio === undefined ? null : ratio >= TARGET_CLI,
    });
    result.cli = { run: r, ratioToNodeAesEncrypt: ratio, ceiling: cliCeiling };
  }

  // 3 and 4: the browser through the bridge, fresh server + bridge + next per size.
  const browserRuns: Record<number, BrowserRun | undefined> = {};
  if (only.has('browser') || only.has('memory')) {
    const built = await step('production build', async () => {
      await ensureBuild();
      return true;
    });
    const sizes = only.has('memory') && smallSize !== size ? [smallSize, size] : [size];
    for (const mib of built === undefined ? [] : sizes) {
      browserRuns[mib] = await step(`browser -> bridge -> server ${mib} MiB`, async () => {
        const r = await browserUpload(work, mib);
        if (!r.verified) throw new Error(`the upload was not verified: ${r.error ?? 'no reason given'}`);
        return r;
      });
    }
  }
  if (only.has('browser')) {
    const r = browserRuns[size];
    const ratio = r?.MiBps && webLimit ? r.MiBps / webLimit : undefined;
    row(
      '3 browser',
      `browser -> bridge -> server ${size} MiB (app /bench, worker)`,
      `${f(r?.MiBps)} MiB/s`,
      `bridge bufferutil: ${r?.bridgeBufferutil ?? '-'}`,
    );
    row('3 browser', 'ratio to min(WebCrypto, WS send)', pct(ratio), `target >= ${pct(TARGET_BROWSER)}`);
    row(
      '3 browser',
      'CPU seconds: Chromium (all processes) / bridge / server',
      `${f(r?.cpuSeconds.chromium, 1)} / ${f(r?.cpuSeconds.bridge, 1)} / ${f(r?.cpuSeconds.server, 1)} s`,
      Object.entries(r?.cpuSeconds.chromiumByType ?? {})
        .filter(([, v]) => v >= 0.1)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
    );
    row(
      '3 browser',
      'renderer CPU seconds by thread',
      `${f(sumValues(r?.cpuSeconds.rendererThreads ?? {}), 1)} s`,
      Object.entries(r?.cpuSeconds.rendererThreads ?? {})
        .filter(([, v]) => v >= 0.1)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
    );
    targets.push({
      target: `browser >= ${pct(TARGET_BROWSER)} of min(WebCrypto, WS)`,
      value: pct(ratio),
      pass: ratio === undefined ? null : ratio >= TARGET_BROWSER,
    });
    result.browser = { run: r, limitMiBps: webLimit, ratio };
  }

  if (only.has('memory')) {
    const growth = (a: number | null | undefined, b: number | null | undefined) =>
      typeof a === 'number' && typeof b === 'number' ? b - a : undefined;
    const cs = cliRuns[smallSize];
    const cb = cliRuns[size];
    const bs = browserRuns[smallSize];
    const bb = browserRuns[size];
    const lines: [string, number | null | undefined, number | null | undefined, boolean][] = [
      ['server peak RSS (CLI upload)', cs?.serverPeakRssMiB, cb?.serverPeakRssMiB, true],
      ['server peak RSS (browser upload)', bs?.serverPeakRssMiB, bb?.serverPeakRssMiB, true],
      ['bridge peak RSS', bs?.bridgePeakRssMiB, bb?.bridgePeakRssMiB, true],
      ['page JS heap peak (main thread)', bs?.pageHeapPeakMiB, bb?.pageHeapPeakMiB, false],
      ['Chromium renderer peak RSS (page + worker)', bs?.rendererPeakRssMiB, bb?.rendererPeakRssMiB, false],
      ['CLI process peak RSS', cs?.cliPeakRssMiB, cb?.cliPeakRssMiB, false],
    ];
    const memory: Record<string, unknown> = {};
    for (const [label, a, b, isTarget] of lines) {
      const g = growth(a, b);
      row(
        '4 memory',
        `${label}: ${smallSize} -> ${size} MiB`,
        `${f(a)} -> ${f(b)} MiB`,
        `${g === undefined ? '-' : `${g >= 0 ? '+' : ''}${g.toFixed(1)} MiB`}${isTarget ? ` (target <= +${TARGET_RSS_GROWTH_MIB})` : ''}`,
      );
      memory[label] = { smallMiB: a, bigMiB: b, growthMiB: g };
      if (isTarget)
        targets.push({
          target: `${label} growth <= ${TARGET_RSS_GROWTH_MIB} MiB`,
          value: g === undefined ? '-' : `${g.toFixed(1)} MiB`,
          pass: g === undefined ? null : g <= TARGET_RSS_GROWTH_MIB,
        });
    }
    result.memory = { smallSizeMiB: smallSize, bigSizeMiB: size, ...memory, cliRuns, browserRuns };
  }

  if (only.has('concurrency')) {
    const c: ConcurrencyRun | undefined = await step(
      `concurrency ${clients} x ${clientMiB} MiB`,
      async () => {
        const r = await concurrency(work, clients, clientMiB);
        if (r.failed > 0) throw new Error(`${r.failed} of ${clients} uploads failed: ${r.errors.join('; ')}`);
        return r;
      },
    );
    row(
      '5 concurrency',
      `${clients} clients x ${clientMiB} MiB at once`,
      `${c ? `${c.verified}/${clients}` : '-'} verified`,
      `aggregate ${f(c?.aggregateMiBps)} MiB/s, wall ${f(c?.wallSeconds, 1)} s`,
    );
    row('5 concurrency', 'time per file p50 / p99', `${f(c?.p50Seconds, 2)} / ${f(c?.p99Seconds, 2)} s`);
    row(
      '5 concurrency',
      'new client register+key exchange: idle / loaded median / max',
      `${f(c?.probeIdleMs)} / ${f(c?.probeLoadedMedianMs)} / ${f(c?.probeLoadedMaxMs)} ms`,
      `${c?.probeLoadedCount ?? 0} probes during load, ${c?.probeErrors ?? 0} errors`,
    );
    row(
      '5 concurrency',
      'server peak RSS / CPU seconds during the load',
      `${f(c?.serverPeakRssMiB)} MiB / ${f(c?.serverCpuSeconds, 1)} s`,
    );
    result.concurrency = c;
  }

  if (only.has('bridge')) {
    const b = await step(`bridge vs direct TCP ${size} MiB`, async () => {
      const group = new ProcGroup();
      let out!: Awaited<ReturnType<typeof benchBridge>> & { bridgeProcessBufferutil: string };
      let problems: string[] = [];
      try {
        const server = group.add('file server', await startServer(join(work, `bridge-data-${Date.now()}`)));
        const origin = 'http://127.0.0.1:3000';
        const bridge = group.add('bridge', await startBridge(server.port, [origin]));
        out = {
          ...(await benchBridge({
            sizeBytes: size * MiB,
            server: { host: '127.0.0.1', port: server.port },
            bridgeUrl: bridge.url,
            origin,
          })),
          bridgeProcessBufferutil: bridge.bufferutil,
        };
      } finally {
        problems = await group.stopAll();
      }
      if (problems.length > 0) throw new Error(problems.join('\n'));
      return out;
    });
    row(
      '6 bridge',
      `direct TCP / via bridge, ${size} MiB (in-process client, Node AES)`,
      `${f(b?.directMiBps)} / ${f(b?.bridgeMiBps)} MiB/s`,
      `bridge/direct ${pct(b?.ratio)}`,
    );
    row(
      '6 bridge',
      'bufferutil: bench client / bridge process',
      `${b?.bufferutil ?? '-'} / ${b?.bridgeProcessBufferutil ?? '-'}`,
    );
    result.bridge = b;
  }

  const load1 = loadavg();
  result.loadAverageEnd = load1;
  // Quick mode proves the bench runs; its sizes cannot judge a target.
  result.targets = quick ? targets.map((t) => ({ ...t, pass: null })) : targets;
  result.failures = failures;
  result.seconds = (Date.now() - started.getTime()) / 1000;

  // The table.
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  console.log(`\nsftransfer bench, ${started.toISOString()}, ${cpus().length} CPUs, node ${process.version}`);
  console.log(
    `load average at start ${load0.map((x) => x.toFixed(2)).join(' ')}, at end ${load1.map((x) => x.toFixed(2)).join(' ')}\n`,
  );
  console.log(line(['section', 'measure', 'value', 'note']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(r));
  if (targets.length) {
    console.log(
      quick
        ? '\nTargets (quick mode: too small to judge; only a full run, `npm run bench`, says pass or miss):'
        : '\nTargets:',
    );
    for (const t of targets)
      console.log(
        `  ${quick || t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'MISS'}  ${t.target}: ${t.value}`,
      );
  }
  if (failures.length) {
    console.log('\nFunctional failures:');
    for (const x of failures) console.log(`  ${x}`);
  }
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nTook ${(result.seconds as number).toFixed(0)} s. Figures written to ${jsonPath}`);
}

try {
  await main();
} catch (e) {
  failures.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
  console.error(e);
} finally {
  killAll();
  rmSync(work, { recursive: true, force: true });
}
process.exit(failures.length > 0 ? 1 : 0);
