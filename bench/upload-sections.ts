/**
 * Sections 2 and 3: the CLI -> server and browser -> bridge -> server uploads, each with
 * protocol 3 and protocol 4 in the same run (alternating when repeated, so a burst of load
 * from elsewhere hits both), at two sizes: the smaller gives the CPU seconds per GiB as the
 * difference (start-up and handshake cancel out) and the peak RSS that must not grow.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { webBuildIsFresh } from '../scripts/web-build';
import { ROOT, sumValues } from './procs';
import { fixed, pct } from './report';
import { type BrowserRuns, type CliRuns, median, numbers, PROTOCOLS, type Runs, range } from './runs';
import type { BenchRun, MeasuredLimits } from './sections';
import { type BrowserRun, browserUpload, cliUpload, type Protocol, randomFile } from './uploads';

const TARGET_CLI = 0.85;
const TARGET_BROWSER = 0.8;
/** The issue's v4 targets: v4 / v3 in the same run. */
export const TARGET_V4_CLI = 1.3;
export const TARGET_V4_BROWSER = 1.5;
/**
 * CPU seconds per GiB of one process: the difference between the two sizes' medians (what
 * one more GiB costs), or the big size alone (start-up included) when only one size ran.
 */
export function cpuPerGiB<R extends { sizeMiB: number }>(
  bySize: Record<number, R[]> | undefined,
  small: number,
  big: number,
  pick: (r: R) => number | null | undefined,
): { perGiB: number | undefined; how: string } {
  const mb = median(numbers((bySize?.[big] ?? []).map(pick)));
  const ms = median(numbers((bySize?.[small] ?? []).map(pick)));
  if (mb === undefined) return { perGiB: undefined, how: '' };
  if (ms === undefined || small === big) return { perGiB: mb / (big / 1024), how: 'start-up included' };
  return { perGiB: (mb - ms) / ((big - small) / 1024), how: `(${big} - ${small} MiB runs)` };
}

/** Median MiB/s of each protocol at `size`, their ratio, and each alternating pair's ratio. */
function compare<R>(runs: Runs<R>, size: number, rate: (r: R) => number | null | undefined) {
  const v3 = numbers((runs[3][size] ?? []).map(rate));
  const v4 = numbers((runs[4][size] ?? []).map(rate));
  const m3 = median(v3);
  const m4 = median(v4);
  const pairs = v3.slice(0, v4.length).map((a, i) => v4[i]! / a);
  return { v3, v4, m3, m4, ratio: m3 && m4 ? m4 / m3 : undefined, pairs };
}

function add<R>(runs: Runs<R>, p: Protocol, mib: number, r: R): void {
  const list = runs[p][mib] ?? [];
  list.push(r);
  runs[p][mib] = list;
}

const times = (r: number | undefined) => (r === undefined ? '-' : `${r.toFixed(2)}x`);

/** 2 (and 4): the real CLI with --protocol 3 and 4, a fresh server per run. */
export async function cliSection(run: BenchRun, { aesEnc, cliCeiling }: MeasuredLimits): Promise<CliRuns> {
  const { only, size, smallSize, work, repeat } = run.opts;
  const { report, result } = run;
  const runs: CliRuns = { 3: {}, 4: {} };
  if (!only.has('cli') && !only.has('memory')) return runs;
  const sizes = smallSize !== size ? [smallSize, size] : [size];
  for (const mib of sizes) {
    const file = await report.step(`random file ${mib} MiB`, () => randomFile(work, mib));
    if (!file) continue;
    const reps = mib === size ? repeat : 1;
    for (let i = 0; i < reps; i++) {
      for (const p of PROTOCOLS) {
        const what = `CLI -> server ${mib} MiB, protocol ${p}${reps > 1 ? ` (${i + 1}/${reps})` : ''}`;
        const r = await report.step(what, () => cliUpload(work, file, mib, p));
        if (r) add(runs, p, mib, r);
      }
    }
  }
  if (!only.has('cli')) return runs;
  const c = compare(runs, size, (r) => r.MiBps);
  for (const p of PROTOCOLS) {
    const xs = p === 3 ? c.v3 : c.v4;
    const wall = median(numbers((runs[p][size] ?? []).map((r) => r.wallSeconds)));
    report.row(
      '2 CLI',
      `CLI -> server ${size} MiB, protocol ${p} (real CLI, its own send time)`,
      `${fixed(median(xs))} MiB/s`,
      `median; ${range(xs)}; wall ${fixed(wall, 1)} s incl. start+register`,
    );
  }
  const ratio = c.m3 && aesEnc ? c.m3 / aesEnc : undefined;
  report.row('2 CLI', 'v3: ratio to Node AES-CBC encrypt', pct(ratio), `target >= ${pct(TARGET_CLI)}`);
  report.row(
    '2 CLI',
    'v4 / v3 (medians)',
    times(c.ratio),
    `target >= ${TARGET_V4_CLI}x; each pair ${c.pairs.map((x) => x.toFixed(2)).join(', ') || '-'}`,
  );
  const cpu: Record<string, unknown> = {};
  for (const p of PROTOCOLS) {
    const cli = cpuPerGiB(runs[p], smallSize, size, (r) => r.cliCpuSeconds);
    const server = cpuPerGiB(runs[p], smallSize, size, (r) => r.serverCpuSeconds);
    report.row(
      '2 CLI',
      `CPU-s/GiB, protocol ${p}: CLI / server`,
      `${fixed(cli.perGiB, 2)} / ${fixed(server.perGiB, 2)}`,
      cli.how,
    );
    cpu[`v${p}`] = { cliCpuSecondsPerGiB: cli.perGiB, serverCpuSecondsPerGiB: server.perGiB, how: cli.how };
  }
  for (const p of PROTOCOLS) {
    const ceil = cliCeiling?.[`v${p}`];
    const got = p === 3 ? c.m3 : c.m4;
    const work = p === 3 ? 'AES-CBC encrypt + decrypt, cksum twice' : 'GCM seal + open, SHA-256 twice';
    report.row(
      '2 CLI',
      `v${p} ceiling here: min(${p === 3 ? 'AES-CBC' : 'SHA-256'}, disk, 2 cores / unavoidable CPU)`,
      `${fixed(ceil?.MiBps)} MiB/s`,
      ceil
        ? `set by ${ceil.by}; unavoidable ${fixed(ceil.cpuSecondsPerGiB, 1)} CPU-s/GiB (${work}, TCP, disk)${got ? `; v${p} at ${pct(got / ceil.MiBps)} of it` : ''}`
        : '',
    );
  }
  report.row(
    '2 CLI',
    'v4 / v3 ceilings: the best ratio these two shared cores allow',
    times(cliCeiling?.v4OverV3),
    `target ${TARGET_V4_CLI}x`,
  );
  report.target({
    target: `CLI v3 >= ${pct(TARGET_CLI)} of Node AES encrypt`,
    value: pct(ratio),
    pass: ratio === undefined ? null : ratio >= TARGET_CLI,
  });
  report.target({
    target: `CLI v4 >= ${TARGET_V4_CLI}x v3`,
    value: times(c.ratio),
    pass: c.ratio === undefined ? null : c.ratio >= TARGET_V4_CLI,
  });
  result.cli = {
    runs,
    medianMiBps: { v3: c.m3, v4: c.m4 },
    v4OverV3: c.ratio,
    v4OverV3Pairs: c.pairs,
    ratioToNodeAesEncrypt: ratio,
    cpu,
    ceiling: cliCeiling,
  };
  return runs;
}

/** The page was asked for v4 but the server stored nothing over v4: the page has no v4 (yet). */
export const pageLacksV4 = (r: BrowserRun | undefined): boolean =>
  r !== undefined && r.protocol === 4 && r.verified && r.v4Uploads === 0;

/** 3 (and 4): the browser through the bridge with ?protocol=3 and ?protocol=4, fresh processes per run. */
export async function browserSection(
  run: BenchRun,
  { webLimit, webLimitV4 }: MeasuredLimits,
): Promise<BrowserRuns> {
  const { only, size, smallSize, work, repeat } = run.opts;
  const { report, result } = run;
  const runs: BrowserRuns = { 3: {}, 4: {} };
  if (!only.has('browser') && !only.has('memory')) return runs;
  const built = await report.step('production build', async () => {
    await ensureBuild(run.log);
    return true;
  });
  if (built === undefined) return runs;
  const sizes = smallSize !== size ? [smallSize, size] : [size];
  let noV4 = false;
  for (const mib of sizes) {
    const reps = mib === size ? repeat : 1;
    for (let i = 0; i < reps; i++) {
      for (const p of PROTOCOLS) {
        if (p === 4 && noV4) continue;
        const what = `browser -> bridge -> server ${mib} MiB, ?protocol=${p}${reps > 1 ? ` (${i + 1}/${reps})` : ''}`;
        const r = await report.step(what, async () => {
          const r = await browserUpload(work, mib, undefined, '', p);
          if (!r.verified) throw new Error(`the upload was not verified: ${r.error ?? 'no reason given'}`);
          if (p === 3 && r.v4Uploads > 0) throw new Error('?protocol=3 was sent with protocol 4');
          return r;
        });
        if (pageLacksV4(r)) {
          run.log('v4 not available in this page (?protocol=4 stored nothing over v4): no v4 browser rows');
          noV4 = true;
          continue;
        }
        if (r) add(runs, p, mib, r);
      }
    }
  }
  if (!only.has('browser')) return runs;
  const c = compare(runs, size, (r) => r.MiBps);
  for (const p of PROTOCOLS) {
    const xs = p === 3 ? c.v3 : c.v4;
    const last = runs[p][size]?.at(-1);
    report.row(
      '3 browser',
      `browser -> bridge -> server ${size} MiB, ?protocol=${p} (app /bench, worker)`,
      p === 4 && noV4 ? 'v4 not available in this page' : `${fixed(median(xs))} MiB/s`,
      last ? `median; ${range(xs)}; bridge bufferutil: ${last.bridgeBufferutil}` : '',
    );
  }
  const ratio = c.m3 && webLimit ? c.m3 / webLimit : undefined;
  report.row(
    '3 browser',
    'v3: ratio to min(WebCrypto, WS send)',
    pct(ratio),
    `target >= ${pct(TARGET_BROWSER)}`,
  );
  const ratioV4 = c.m4 && webLimitV4 ? c.m4 / webLimitV4 : undefined;
  report.row(
    '3 browser',
    'v4: ratio to min(WebCrypto GCM, 4 in flight; WS send)',
    pct(ratioV4),
    webLimit && webLimitV4
      ? `v4 / v3 of these limits: ${times(webLimitV4 / webLimit)} (the most the ratio can be with both at their limit)`
      : '',
  );
  report.row(
    '3 browser',
    'v4 / v3 (medians)',
    noV4 ? 'v4 not available in this page' : times(c.ratio),
    `target >= ${TARGET_V4_BROWSER}x`,
  );
  const cpu: Record<string, unknown> = {};
  for (const p of PROTOCOLS) {
    if (p === 4 && noV4) continue;
    const per = (pick: (r: BrowserRun) => number | null | undefined) =>
      cpuPerGiB(runs[p], smallSize, size, pick);
    const chromium = per((r) => r.cpuSeconds.chromium);
    const bridge = per((r) => r.cpuSeconds.bridge);
    const server = per((r) => r.cpuSeconds.server);
    report.row(
      '3 browser',
      `CPU-s/GiB, protocol ${p}: Chromium (all) / bridge / server`,
      `${fixed(chromium.perGiB, 2)} / ${fixed(bridge.perGiB, 2)} / ${fixed(server.perGiB, 2)}`,
      chromium.how,
    );
    const last = runs[p][size]?.at(-1);
    report.row(
      '3 browser',
      `protocol ${p}: renderer CPU seconds by thread (last ${size} MiB run)`,
      `${fixed(sumValues(last?.cpuSeconds.rendererThreads ?? {}), 1)} s`,
      Object.entries(last?.cpuSeconds.rendererThreads ?? {})
        .filter(([, v]) => v >= 0.1)
        .sort((a, b) => b[1] - a[1])
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', '),
    );
    cpu[`v${p}`] = {
      chromium: chromium.perGiB,
      bridge: bridge.perGiB,
      server: server.perGiB,
      how: chromium.how,
    };
  }
  report.target({
    target: `browser v3 >= ${pct(TARGET_BROWSER)} of min(WebCrypto, WS)`,
    value: pct(ratio),
    pass: ratio === undefined ? null : ratio >= TARGET_BROWSER,
  });
  report.target({
    target: `browser v4 >= ${TARGET_V4_BROWSER}x v3`,
    value: noV4 ? 'v4 not available in this page' : times(c.ratio),
    pass: c.ratio === undefined ? null : c.ratio >= TARGET_V4_BROWSER,
  });
  result.browser = {
    runs,
    limitMiBps: webLimit,
    ratio,
    limitMiBpsV4: webLimitV4,
    ratioV4,
    v4Available: !noV4,
    medianMiBps: { v3: c.m3, v4: c.m4 },
    v4OverV3: c.ratio,
    cpu,
  };
  return runs;
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
