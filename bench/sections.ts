/**
 * The bench's sections, each measuring one thing and adding its rows, targets and JSON to the
 * run it is handed: 1 limits, 2 CLI, 3 browser, 4 memory, 5 concurrency, 6 bridge.
 * `bench/main.ts` parses the flags and calls them in order.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { webBuildIsFresh } from '../scripts/web-build';
import { benchBridge } from './bridge';
import { browserLimits } from './browser-limits';
import { type ConcurrencyRun, concurrency } from './concurrency';
import { cliPathCeiling, diskWrite, jsCksum, loopbackTcp, nodeAesDecrypt, nodeAesEncrypt } from './limits';
import { ProcGroup, ROOT, startBridge, startServer, sumValues } from './procs';
import { type BenchReport, fixed, pct } from './report';
import { type BrowserRun, browserUpload, type CliRun, cliUpload, randomFile } from './uploads';

const MiB = 1024 * 1024;
export const SECTIONS = ['limits', 'cli', 'browser', 'memory', 'concurrency', 'bridge'] as const;
export type Section = (typeof SECTIONS)[number];

const TARGET_CLI = 0.85;
const TARGET_BROWSER = 0.8;
const TARGET_RSS_GROWTH_MIB = 20;

export interface BenchOptions {
  /** Upload size for the CLI, browser and bridge paths. */
  size: number;
  /** The smaller size of the memory comparison. */
  smallSize: number;
  /** Bytes pushed through each physical limit, in MiB. */
  limitMiB: number;
  clients: number;
  clientMiB: number;
  quick: boolean;
  only: ReadonlySet<Section>;
  /** The run's scratch folder. */
  work: string;
}

/** One run: its options, the report the sections add to, and the JSON written at the end. */
export interface BenchRun {
  opts: BenchOptions;
  report: BenchReport;
  result: Record<string, unknown>;
  log: (text: string) => void;
}

/** What the later sections judge against. */
export interface MeasuredLimits {
  aesEnc: number | undefined;
  cliCeiling: { MiBps: number; cpuSecondsPerGiB: number } | undefined;
  webLimit: number | undefined;
}

export type CliRuns = Record<number, CliRun | undefined>;
export type BrowserRuns = Record<number, BrowserRun | undefined>;

/** 1. Physical limits (Node and Chromium). */
export async function limitsSection(run: BenchRun): Promise<MeasuredLimits> {
  const { only, limitMiB, quick, work } = run.opts;
  const { report, result } = run;
  let aesEnc: number | undefined;
  let cliCeiling: { MiBps: number; cpuSecondsPerGiB: number } | undefined;
  let webLimit: number | undefined;
  if (only.has('limits') || only.has('cli') || only.has('browser')) {
    const limits = await report.step('limits (Node)', async () => ({
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
        ? await report.step('limits (Chromium)', () => browserLimits(limitMiB))
        : undefined;
    aesEnc = limits?.nodeAesEncryptMiBps;
    if (limits) cliCeiling = cliPathCeiling(limits);
    // WebSocket at the message size the app sends (1 MiB packets): the browser's best.
    if (browser) webLimit = Math.min(browser.webCryptoAesCbc, browser.webSocketSend1m);
    result.limits = { totalMiB: limitMiB, ...limits, chromium: browser };
    report.row(
      '1 limits',
      'Node AES-256-CBC encrypt (1 core, 1 MiB calls)',
      `${fixed(limits?.nodeAesEncryptMiBps)} MiB/s`,
      `${fixed(limits?.nodeAesEncrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    report.row(
      '1 limits',
      'Node AES-256-CBC decrypt (1 MiB calls)',
      `${fixed(limits?.nodeAesDecryptMiBps)} MiB/s`,
      `${fixed(limits?.nodeAesDecrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    report.row(
      '1 limits',
      'loopback TCP (1 MiB writes)',
      `${fixed(limits?.loopbackTcp.MiBps)} MiB/s`,
      `${fixed(limits?.loopbackTcp.cpuSecondsPerGiB, 1)} CPU-s/GiB, both ends`,
    );
    report.row('1 limits', 'JS cksum (WebAssembly)', `${fixed(limits?.jsCksumMiBps)} MiB/s`);
    report.row(
      '1 limits',
      'disk write, fdatasync per 32 MiB (as the server)',
      `${fixed(limits?.disk.MiBps)} MiB/s`,
      `${fixed(limits?.disk.cpuSecondsPerGiB, 1)} CPU-s/GiB`,
    );
    report.row(
      '1 limits',
      'Chromium WebCrypto AES-CBC, 64 KiB / 512 KiB calls',
      `${fixed(browser?.webCryptoAesCbc)} / ${fixed(browser?.webCryptoAesCbc512k)} MiB/s`,
      'the app encrypts 512 KiB per call',
    );
    report.row(
      '1 limits',
      'Chromium WebSocket send, 64 KiB / 1 MiB messages',
      `${fixed(browser?.webSocketSend)} / ${fixed(browser?.webSocketSend1m)} MiB/s`,
      'the app sends 1 MiB packets',
    );
  }
  return { aesEnc, cliCeiling, webLimit };
}

/** 2 (and 4): the real CLI, a fresh server per size. */
export async function cliSection(run: BenchRun, { aesEnc, cliCeiling }: MeasuredLimits): Promise<CliRuns> {
  const { only, size, smallSize, work } = run.opts;
  const { report, result } = run;
  // 2 and 4: the CLI, fresh server per size.
  const cliRuns: CliRuns = {};
  const needCli = only.has('cli') || only.has('memory');
  if (needCli) {
    const sizes = only.has('memory') && smallSize !== size ? [smallSize, size] : [size];
    for (const mib of only.has('cli') || only.has('memory') ? sizes : []) {
      const file = await report.step(`random file ${mib} MiB`, () => randomFile(work, mib));
      if (file)
        cliRuns[mib] = await report.step(`CLI -> server ${mib} MiB`, () => cliUpload(work, file, mib));
    }
  }
  if (only.has('cli')) {
    const r = cliRuns[size];
    const ratio = r && aesEnc ? r.MiBps / aesEnc : undefined;
    report.row(
      '2 CLI',
      `CLI -> server ${size} MiB (real CLI, its own send time)`,
      `${fixed(r?.MiBps)} MiB/s`,
      `wall ${fixed(r?.wallSeconds, 1)} s incl. start+register`,
    );
    report.row('2 CLI', 'ratio to Node AES encrypt', pct(ratio), `target >= ${pct(TARGET_CLI)}`);
    report.row(
      '2 CLI',
      'CPU seconds: CLI / server',
      `${fixed(r?.cliCpuSeconds, 1)} / ${fixed(r?.serverCpuSeconds, 1)} s`,
    );
    report.row(
      '2 CLI',
      'ceiling here: min(AES, disk, 2 cores / unavoidable CPU)',
      `${fixed(cliCeiling?.MiBps)} MiB/s`,
      cliCeiling && aesEnc && r
        ? `${pct(cliCeiling.MiBps / aesEnc)} of AES; unavoidable ${fixed(cliCeiling.cpuSecondsPerGiB, 1)} CPU-s/GiB; CLI at ${pct(r.MiBps / cliCeiling.MiBps)} of it`
        : '',
    );
    report.target({
      target: `CLI >= ${pct(TARGET_CLI)} of Node AES encrypt`,
      value: pct(ratio),
      pass: ratio === undefined ? null : ratio >= TARGET_CLI,
    });
    result.cli = { run: r, ratioToNodeAesEncrypt: ratio, ceiling: cliCeiling };
  }
  return cliRuns;
}

/** 3 (and 4): the browser through the bridge, fresh server + bridge + next per size. */
export async function browserSection(run: BenchRun, { webLimit }: MeasuredLimits): Promise<BrowserRuns> {
  const { only, size, smallSize, work } = run.opts;
  const { report, result } = run;
  const log = run.log;
  const browserRuns: BrowserRuns = {};
  if (only.has('browser') || only.has('memory')) {
    const built = await report.step('production build', async () => {
      await ensureBuild(log);
      return true;
    });
    const sizes = only.has('memory') && smallSize !== size ? [smallSize, size] : [size];
    for (const mib of built === undefined ? [] : sizes) {
      browserRuns[mib] = await report.step(`browser -> bridge -> server ${mib} MiB`, async () => {
        const r = await browserUpload(work, mib);
        if (!r.verified) throw new Error(`the upload was not verified: ${r.error ?? 'no reason given'}`);
        return r;
      });
    }
  }
  if (only.has('browser')) {
    const r = browserRuns[size];
    const ratio = r?.MiBps && webLimit ? r.MiBps / webLimit : undefined;
    report.row(
      '3 browser',
      `browser -> bridge -> server ${size} MiB (app /bench, worker)`,
      `${fixed(r?.MiBps)} MiB/s`,
      `bridge bufferutil: ${r?.bridgeBufferutil ?? '-'}`,
    );
    report.row(
      '3 browser',
      'ratio to min(WebCrypto, WS send)',
      pct(ratio),
      `target >= ${pct(TARGET_BROWSER)}`,
    );
    report.row(
      '3 browser',
      'CPU seconds: Chromium (all processes) / bridge / server',
      `${fixed(r?.cpuSeconds.chromium, 1)} / ${fixed(r?.cpuSeconds.bridge, 1)} / ${fixed(r?.cpuSeconds.server, 1)} s`,
      Object.entries(r?.cpuSeconds.chromiumByType ?? {})
        .filter(([, v]) => v >= 0.1)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
    );
    report.row(
      '3 browser',
      'renderer CPU seconds by thread',
      `${fixed(sumValues(r?.cpuSeconds.rendererThreads ?? {}), 1)} s`,
      Object.entries(r?.cpuSeconds.rendererThreads ?? {})
        .filter(([, v]) => v >= 0.1)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
    );
    report.target({
      target: `browser >= ${pct(TARGET_BROWSER)} of min(WebCrypto, WS)`,
      value: pct(ratio),
      pass: ratio === undefined ? null : ratio >= TARGET_BROWSER,
    });
    result.browser = { run: r, limitMiBps: webLimit, ratio };
  }
  return browserRuns;
}

/** 4. Peak memory at two sizes: what must not grow with the file. */
export function memorySection(run: BenchRun, cliRuns: CliRuns, browserRuns: BrowserRuns): void {
  const { size, smallSize } = run.opts;
  const { report, result } = run;
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
    report.row(
      '4 memory',
      `${label}: ${smallSize} -> ${size} MiB`,
      `${fixed(a)} -> ${fixed(b)} MiB`,
      `${g === undefined ? '-' : `${g >= 0 ? '+' : ''}${g.toFixed(1)} MiB`}${isTarget ? ` (target <= +${TARGET_RSS_GROWTH_MIB})` : ''}`,
    );
    memory[label] = { smallMiB: a, bigMiB: b, growthMiB: g };
    if (isTarget)
      report.target({
        target: `${label} growth <= ${TARGET_RSS_GROWTH_MIB} MiB`,
        value: g === undefined ? '-' : `${g.toFixed(1)} MiB`,
        pass: g === undefined ? null : g <= TARGET_RSS_GROWTH_MIB,
      });
  }
  result.memory = { smallSizeMiB: smallSize, bigSizeMiB: size, ...memory, cliRuns, browserRuns };
}

/** 5. Many clients at once, and how long a new one waits meanwhile. */
export async function concurrencySection(run: BenchRun): Promise<void> {
  const { clients, clientMiB, work } = run.opts;
  const { report, result } = run;
  const c: ConcurrencyRun | undefined = await report.step(
    `concurrency ${clients} x ${clientMiB} MiB`,
    async () => {
      const r = await concurrency(work, clients, clientMiB);
      if (r.failed > 0) throw new Error(`${r.failed} of ${clients} uploads failed: ${r.errors.join('; ')}`);
      return r;
    },
  );
  report.row(
    '5 concurrency',
    `${clients} clients x ${clientMiB} MiB at once`,
    `${c ? `${c.verified}/${clients}` : '-'} verified`,
    `aggregate ${fixed(c?.aggregateMiBps)} MiB/s, wall ${fixed(c?.wallSeconds, 1)} s`,
  );
  report.row(
    '5 concurrency',
    'time per file p50 / p99',
    `${fixed(c?.p50Seconds, 2)} / ${fixed(c?.p99Seconds, 2)} s`,
  );
  report.row(
    '5 concurrency',
    'new client register+key exchange: idle / loaded median / max',
    `${fixed(c?.probeIdleMs)} / ${fixed(c?.probeLoadedMedianMs)} / ${fixed(c?.probeLoadedMaxMs)} ms`,
    `${c?.probeLoadedCount ?? 0} probes during load, ${c?.probeErrors ?? 0} errors`,
  );
  report.row(
    '5 concurrency',
    'server peak RSS / CPU seconds during the load',
    `${fixed(c?.serverPeakRssMiB)} MiB / ${fixed(c?.serverCpuSeconds, 1)} s`,
  );
  result.concurrency = c;
}

/** 6. The same in-process upload direct and through the bridge. */
export async function bridgeSection(run: BenchRun): Promise<void> {
  const { size, work } = run.opts;
  const { report, result } = run;
  const b = await report.step(`bridge vs direct TCP ${size} MiB`, async () => {
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
  report.row(
    '6 bridge',
    `direct TCP / via bridge, ${size} MiB (in-process client, Node AES)`,
    `${fixed(b?.directMiBps)} / ${fixed(b?.bridgeMiBps)} MiB/s`,
    `bridge/direct ${pct(b?.ratio)}`,
  );
  report.row(
    '6 bridge',
    'bufferutil: bench client / bridge process',
    `${b?.bufferutil ?? '-'} / ${b?.bridgeProcessBufferutil ?? '-'}`,
  );
  result.bridge = b;
}

async function ensureBuild(log: (text: string) => void): Promise<void> {
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
