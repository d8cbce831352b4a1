/**
 * `npm run bench`: every upload path measured against its physical limit, side by side in
 * one run (absolute figures drift on a shared machine; the ratios hold). See README
 * "Performance". Flags:
 *   --size MiB      upload size for the CLI, browser and bridge paths (default 1024)
 *   --quick         32 MiB everywhere, memory at 8 vs 32 MiB, concurrency 10 x 2 MiB (CI: proves it works)
 *   --only LIST     comma-separated: limits,cli,browser,memory,concurrency,bridge
 *   --json PATH     where to write the figures (default bench-results/bench-<timestamp>.json)
 *   --clients N --client-mib M   concurrency shape (default 100 x 10 MiB)
 *   --repeat N      CLI and browser runs per protocol at the main size, alternating (default 2)
 * Exit status 1 only when something fails functionally (an upload not verified, a process
 * crashing); a missed performance target is reported, never an error.
 * Profiling: SFT_BENCH_SERVER_FLAGS / SFT_BENCH_BRIDGE_FLAGS / SFT_BENCH_CLI_FLAGS add node
 * flags to those processes (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { flag, list, parseCommandLine, value } from '../platform/options';
import { oneOf, positiveInteger, text } from '../platform/validators';
import { CHROMIUM } from './chromium';
import { killAll, ROOT } from './procs';
import { BenchReport } from './report';
import {
  type BenchRun,
  bridgeSection,
  concurrencySection,
  limitsSection,
  memorySection,
  SECTIONS,
  type Section,
} from './sections';
import { browserSection, cliSection } from './upload-sections';

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
  repeat: value(positiveInteger, {
    arg: 'N',
    help: 'CLI and browser: runs per protocol at the main size, alternating 3, 4, 3, 4 (default 2, 1 with --quick)',
  }),
} as const;

const { values: flags } = parseCommandLine(BENCH_OPTIONS, { usage: 'Usage: npm run bench -- [options]' });

const quick = flags.quick;
const size = flags.size ?? (quick ? 32 : 1024);
const smallSize = quick ? Math.min(8, size) : Math.min(100, size);
const limitMiB = quick ? 32 : 256;
const clients = flags.clients ?? (quick ? 10 : 100);
const clientMiB = flags['client-mib'] ?? (quick ? 2 : 10);
const repeat = flags.repeat ?? (quick ? 1 : 2);
const only = new Set<Section>(flags.only);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const jsonPath = resolve(flags.json ?? join(ROOT, 'bench-results', `bench-${stamp}.json`));

process.on('SIGINT', () => {
  killAll();
  process.exit(130);
});
process.on('exit', killAll);

const work = mkdtempSync(join(tmpdir(), 'sft-bench-'));
const log = (text: string) => process.stderr.write(`[bench] ${text}\n`);

async function main(report: BenchReport): Promise<void> {
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
  const run: BenchRun = {
    opts: { size, smallSize, limitMiB, clients, clientMiB, repeat, quick, only, work },
    report,
    result,
    log,
  };

  const limits = await limitsSection(run);
  const cliRuns = await cliSection(run, limits);
  const browserRuns = await browserSection(run, limits);
  if (only.has('memory')) memorySection(run, cliRuns, browserRuns);
  if (only.has('concurrency')) await concurrencySection(run);
  if (only.has('bridge')) await bridgeSection(run);

  const load1 = loadavg();
  result.loadAverageEnd = load1;
  // Quick mode proves the bench runs; its sizes cannot judge a target.
  result.targets = quick ? report.targets.map((t) => ({ ...t, pass: null })) : report.targets;
  result.failures = report.failures;
  result.seconds = (Date.now() - started.getTime()) / 1000;

  const loads = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(
    report.format(
      `\nsftransfer bench, ${started.toISOString()}, ${cpus().length} CPUs, node ${process.version}\n` +
        `load average at start ${loads(load0)}, at end ${loads(load1)}\n`,
      quick,
    ),
  );
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nTook ${(result.seconds as number).toFixed(0)} s. Figures written to ${jsonPath}`);
}

const report = new BenchReport(log);
try {
  await main(report);
} catch (e) {
  report.fail(e instanceof Error ? (e.stack ?? e.message) : String(e));
  console.error(e);
} finally {
  killAll();
  rmSync(work, { recursive: true, force: true });
}
process.exit(report.failures.length > 0 ? 1 : 0);
