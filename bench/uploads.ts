/**
 * The measured uploads: the real CLI against a fresh server process, and the browser (the
 * app's /bench page in headless Chromium, no Playwright) through a fresh bridge and server.
 * Each run starts its own processes so their peak RSS (VmHWM) belongs to that one upload.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { resultServer, runInChromium } from './chromium';
import {
  cpuSeconds,
  descendants,
  freePort,
  ProcGroup,
  procMiB,
  reapedChildrenCpuSeconds,
  startBridge,
  startCli,
  startNext,
  startServer,
  sumValues,
  threadCpuSeconds,
} from './procs';

const MiB = 1024 * 1024;

/** A file of `mib` MiB of random bytes in `dir`, written once and reused by later runs of the same size. */
export async function randomFile(dir: string, mib: number): Promise<string> {
  const path = join(dir, `bench-${mib}MiB.bin`);
  if (existsSync(path) && statSync(path).size === mib * MiB) return path;
  const out = createWriteStream(path);
  for (let i = 0; i < mib; i++) {
    if (!out.write(randomBytes(MiB))) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  return path;
}

/** The protocol version a run asks for (`--protocol` of the CLI, `?protocol=` of the page). */
export type Protocol = 3 | 4;

export interface CliRun {
  sizeMiB: number;
  protocol: Protocol;
  verified: boolean;
  /** The CLI's own figure: sendFile only (no process start, no registration). */
  seconds: number;
  MiBps: number;
  /** Process start to exit, registration included. */
  wallSeconds: number;
  serverPeakRssMiB: number | null;
  /** The server's CPU from the CLI's start to the upload's end (its own start-up excluded). */
  serverCpuSeconds: number | null;
  cliPeakRssMiB: number | null;
  /** The CLI's whole life (its start-up and handshake included). */
  cliCpuSeconds: number | null;
}

/** Spawns the real CLI (`cli/main.ts`, as shipped) against a fresh server process. */
export async function cliUpload(
  work: string,
  file: string,
  sizeMiB: number,
  protocol: Protocol = 3,
): Promise<CliRun> {
  const runDir = mkdtempSync(join(work, 'cli-run-'));
  const group = new ProcGroup();
  let run!: CliRun;
  let problems: string[] = [];
  try {
    const server = group.add('file server', await startServer(join(runDir, 'data')));
    const name = `bench-cli-${randomBytes(4).toString('hex')}`;
    const serverCpu0 = cpuSeconds(server.pid) ?? 0;
    const reaped0 = reapedChildrenCpuSeconds();
    const t0 = performance.now();
    const cli = startCli(
      ['--server', `127.0.0.1:${server.port}`, '--name', name, '--dir', runDir, '--json', file],
      runDir,
      String(protocol) as '3' | '4',
    );
    let cliPeak: number | null = null;
    // VmHWM must be read before the process is reaped: poll while it runs.
    const poll = setInterval(() => {
      cliPeak = procMiB(cli.pid) ?? cliPeak;
    }, 100);
    const code = await cli.exited;
    clearInterval(poll);
    // The CLI is the only child reaped meanwhile (the server still runs).
    const cliCpu = reapedChildrenCpuSeconds() - reaped0;
    const wallSeconds = (performance.now() - t0) / 1000;
    const out = cli.output();
    const result = cliResult(out);
    const verified = code === 0 && result?.status === 'verified';
    if (!verified || !result)
      throw new Error(
        `The CLI upload of ${sizeMiB} MiB (protocol ${protocol}) failed (exit ${code}):\n${out}`,
      );
    if (result.protocol !== protocol)
      throw new Error(`The CLI asked for protocol ${protocol} sent with ${result.protocol}:\n${out}`);
    const seconds = result.seconds;
    const serverCpu = cpuSeconds(server.pid);
    run = {
      sizeMiB,
      protocol,
      verified,
      seconds,
      MiBps: sizeMiB / seconds,
      wallSeconds,
      serverPeakRssMiB: procMiB(server.pid),
      serverCpuSeconds: serverCpu === null ? null : serverCpu - serverCpu0,
      cliPeakRssMiB: cliPeak,
      cliCpuSeconds: cliCpu,
    };
  } finally {
    problems = await group.stopAll();
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return run;
}

export interface BrowserRun {
  sizeMiB: number;
  /** The `?protocol=` the page was opened with (none: the page's default). */
  protocol: Protocol | null;
  /** Files the server stored over protocol v4 in this run (its `v4-upload-done` log lines). */
  v4Uploads: number;
  verified: boolean;
  MiBps: number | null;
  seconds: number | null;
  pageHeapStartMiB: number | null;
  pageHeapPeakMiB: number | null;
  /** Largest VmHWM among Chromium's renderer processes (the page and its upload worker live there). */
  rendererPeakRssMiB: number | null;
  serverPeakRssMiB: number | null;
  bridgePeakRssMiB: number | null;
  bridgeBufferutil: string;
  /** CPU seconds (user+system, all threads) of each part over its whole life: the CPU budget. */
  cpuSeconds: {
    server: number | null;
    bridge: number | null;
    chromium: number | null;
    /** Chromium's CPU by process type (browser, renderer, utility = network service, gpu-process ...). */
    chromiumByType: Record<string, number>;
    /** The busiest renderer's CPU by thread name (DedicatedWorker = the upload worker). */
    rendererThreads: Record<string, number>;
  };
  error?: string;
}

interface PageResult {
  sizeMiB: number;
  verified: boolean;
  MiBps: number | null;
  seconds: number | null;
  heapStartBytes: number | null;
  heapPeakBytes: number | null;
  attempts: number;
  error?: string;
}

const mibOrNull = (b: number | null | undefined) => (typeof b === 'number' ? b / MiB : null);

/**
 * Fresh server, bridge and `next start` (production build, SFT_ENABLE_BENCH=1, bridge URL via
 * SFT_BRIDGE_URL as a deployment sets it); Chromium opens /bench, which registers, uploads a
 * synthetic `sizeMiB` file through the app's upload worker and navigates to our results URL.
 */
/** How the page is opened: headless Chromium without instrumentation, unless a profiler swaps it. */
export type PageRunner = typeof runInChromium;

export async function browserUpload(
  work: string,
  sizeMiB: number,
  runPage: PageRunner = runInChromium,
  /** Extra query parameters for /bench (the profiler passes delay=MS). */
  extraQuery = '',
  protocol: Protocol | null = null,
): Promise<BrowserRun> {
  const runDir = mkdtempSync(join(work, 'browser-run-'));
  mkdirSync(join(runDir, 'data'));
  const group = new ProcGroup();
  const results = await resultServer();
  let run!: BrowserRun;
  let problems: string[] = [];
  try {
    const server = group.add('file server', await startServer(join(runDir, 'data')));
    const webPort = await freePort();
    const origin = `http://127.0.0.1:${webPort}`;
    const bridge = group.add('bridge', await startBridge(server.port, [origin]));
    group.add('next start', await startNext(webPort, { SFT_ENABLE_BENCH: '1', SFT_BRIDGE_URL: bridge.url }));
    let rendererPeak: number | null = null;
    let chromiumCpu: number | null = null;
    const byType: Record<string, number> = {};
    let rendererThreads: Record<string, number> = {};
    const query = `${extraQuery}${protocol === null ? '' : `&protocol=${protocol}`}`;
    const url = `${origin}/bench?size=${sizeMiB}${query}&results=${encodeURIComponent(`http://127.0.0.1:${results.port}/result`)}`;
    const timeoutMs = 120_000 + sizeMiB * 1000; // generous: 1 s per MiB on top of start-up
    const page = (await runPage(url, results.result, timeoutMs, (pid) => {
      chromiumCpu = cpuSeconds(pid);
      byType.browser = chromiumCpu ?? 0;
      for (const p of descendants(pid)) {
        const cpu = cpuSeconds(p) ?? 0;
        chromiumCpu = (chromiumCpu ?? 0) + cpu;
        const type = processType(p);
        byType[type] = (byType[type] ?? 0) + cpu;
        const hwm = procMiB(p);
        if (hwm !== null && isRenderer(p)) rendererPeak = Math.max(rendererPeak ?? 0, hwm);
        if (isRenderer(p) && cpu > sumValues(rendererThreads)) rendererThreads = threadCpuSeconds(p);
      }
    })) as PageResult;
    run = {
      sizeMiB,
      protocol,
      v4Uploads: server.lines.filter((l) => l.event === 'v4-upload-done').length,
      verified: page.verified === true,
      MiBps: page.MiBps,
      seconds: page.seconds,
      pageHeapStartMiB: mibOrNull(page.heapStartBytes),
      pageHeapPeakMiB: mibOrNull(page.heapPeakBytes),
      rendererPeakRssMiB: rendererPeak,
      serverPeakRssMiB: procMiB(server.pid),
      bridgePeakRssMiB: procMiB(bridge.pid),
      bridgeBufferutil: bridge.bufferutil,
      cpuSeconds: {
        server: cpuSeconds(server.pid),
        bridge: cpuSeconds(bridge.pid),
        chromium: chromiumCpu,
        chromiumByType: byType,
        rendererThreads,
      },
      error: page.error,
    };
  } finally {
    results.server.close();
    problems = await group.stopAll();
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
  return run;
}

/** Chromium's --type= of a process ('utility' is the network service), '?' when unknown. */
function processType(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? '?';
    const sub = /--utility-sub-type=([\w.]+)/.exec(cmd)?.[1];
    return sub ? `${type}:${sub.split('.').pop()}` : type;
  } catch {
    return '?';
  }
}

function isRenderer(pid: number): boolean {
  return processType(pid) === 'renderer';
}

/** The CLI's `--json` line for the one file sent, found among its output lines. */
function cliResult(output: string): { status: string; seconds: number; protocol: Protocol } | null {
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line) as { status?: unknown; seconds?: unknown; protocol?: unknown };
      if (typeof r.status === 'string' && typeof r.seconds === 'number') {
        // The v3 path's JSON line has no protocol field.
        return { status: r.status, seconds: r.seconds, protocol: r.protocol === 4 ? 4 : 3 };
      }
    } catch {
      // a progress line that happens to start with "{": not ours
    }
  }
  return null;
}
