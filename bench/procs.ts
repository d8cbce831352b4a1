/**
 * The processes a benchmark run needs, each its own PID so its peak RSS can be read:
 * file server, bridge, `next start`, the real CLI. 127.0.0.1 and ephemeral ports only;
 * every spawn is recorded so the bench can stop exactly what it started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const ROOT = resolve(import.meta.dirname, '..');
const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** Extra node flags per part, for profiling: SFT_BENCH_SERVER_FLAGS="--cpu-prof --cpu-prof-dir=prof". */
function nodeFlags(part: 'SERVER' | 'BRIDGE' | 'CLI'): string[] {
  return process.env[`SFT_BENCH_${part}_FLAGS`]?.split(' ').filter(Boolean) ?? [];
}

const running = new Set<ChildProcess>();

/** Stops everything still running that the bench started (on exit or Ctrl-C). */
export function killAll(): void {
  for (const p of running) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

export interface Proc {
  pid: number;
  proc: ChildProcess;
  /** Last 64 KiB of stdout+stderr. */
  output(): string;
  /** Resolves with the exit code (or signal). */
  exited: Promise<number | string | null>;
  /** SIGTERM (then SIGKILL after 10 s) and wait. */
  stop(): Promise<number | string | null>;
}

const KEEP = 64 * 1024;

export function start(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Proc {
  const proc = spawn(cmd, args, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(proc);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 2 * KEEP) out = out.slice(-KEEP);
  };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const exited = new Promise<number | string | null>((r) =>
    proc.once('exit', (code, signal) => {
      running.delete(proc);
      r(code ?? signal);
    }),
  );
  return {
    pid: proc.pid!,
    proc,
    output: () => out.slice(-KEEP),
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        const r = await exited;
        clearTimeout(t);
        return r;
      }
      return exited;
    },
  };
}

/** Resolves with the first match of `re` in the process output, or rejects if it exits first. */
export function waitFor(p: Proc, re: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return new Promise((res, rej) => {
    const timer = setTimeout(() => {
      cleanup();
      rej(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${p.output()}`));
    }, timeoutMs);
    const check = () => {
      const m = re.exec(p.output());
      if (m) {
        cleanup();
        res(m);
      }
    };
    const onExit = () => {
      cleanup();
      rej(new Error(`${what} exited before it was ready:\n${p.output()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      p.proc.stdout!.off('data', check);
      p.proc.stderr!.off('data', check);
      p.proc.off('exit', onExit);
    };
    p.proc.stdout!.on('data', check);
    p.proc.stderr!.on('data', check);
    p.proc.once('exit', onExit);
    check();
  });
}

export interface ServerProc extends Proc {
  port: number;
}

/** `server/main.ts` as its own node process (tsx loader: one PID, the server's own). */
export async function startServer(dataDir: string, extra: string[] = []): Promise<ServerProc> {
  const p = start(process.execPath, [
    ...nodeFlags('SERVER'),
    '--import',
    TSX_LOADER,
    join(ROOT, 'server/main.ts'),
    '--host',
    '127.0.0.1',
    '--port',
    '0',
    '--data',
    dataDir,
    // Every bench client comes from 127.0.0.1 (100 register at once): the per-source limits
    // against strangers (docs/SECURITY.md) are not what is measured here.
    ...['--register-per-minute', '1000000', '--reconnect-per-minute', '1000000'],
    ...extra,
  ]);
  const m = await waitFor(p, /listening on [^\s]+:(\d+)/, 'The file server');
  return { ...p, port: Number(m[1]) };
}

export interface BridgeProc extends Proc {
  port: number;
  url: string;
  bufferutil: string;
}

export async function startBridge(targetPort: number, origins: string[]): Promise<BridgeProc> {
  const p = start(process.execPath, [
    ...nodeFlags('BRIDGE'),
    '--import',
    TSX_LOADER,
    join(ROOT, 'bridge/main.ts'),
    '--listen',
    '127.0.0.1:0',
    '--target',
    `127.0.0.1:${targetPort}`,
    ...origins.flatMap((o) => ['--origin', o]),
  ]);
  const m = await waitFor(
    p,
    /"event":"listening","url":"(ws:\/\/[^"]+)"[^\n]*"bufferutil":"([^"]+)"/,
    'The bridge',
  );
  const url = m[1]!;
  return { ...p, url, port: Number(new URL(url).port), bufferutil: m[2]! };
}

/** The real CLI (`cli/main.ts`) as its own process. */
export function startCli(args: string[], cwd: string): Proc {
  return start(
    process.execPath,
    [...nodeFlags('CLI'), '--import', TSX_LOADER, join(ROOT, 'cli/main.ts'), ...args],
    {
      cwd,
    },
  );
}

/** `next start` of the existing production build on `port`. */
export async function startNext(port: number, env: Record<string, string>): Promise<Proc> {
  const p = start(join(ROOT, 'node_modules/.bin/next'), ['start', '-H', '127.0.0.1', '-p', String(port)], {
    env,
  });
  await waitFor(p, /Ready in|started server on/i, 'next start', 120_000);
  return p;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** A /proc/PID/status field in MiB (VmHWM = peak RSS, VmRSS = now); null once the process is gone. */
export function procMiB(pid: number, field: 'VmHWM' | 'VmRSS' = 'VmHWM'): number | null {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** User+system CPU seconds of a process so far (all threads). */
export function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** The sum of a record's values (CPU seconds by thread, by process type ...). */
export function sumValues(r: Record<string, number>): number {
  return Object.values(r).reduce((a, b) => a + b, 0);
}

/**
 * CPU seconds (user+system) of each thread of `pid`, summed by thread name (Linux
 * /proc/PID/task/TID/comm): where inside one Chromium process the time goes.
 */
export function threadCpuSeconds(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const fields = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const sec = (Number(fields[11]) + Number(fields[12])) / 100;
      out[name] = (out[name] ?? 0) + sec;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/** PIDs of every descendant of `pid` (Linux /proc), for Chromium's renderer processes. */
export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.split(') ')[1]!.split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(e));
      children.set(ppid, list);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/** Processes started for one measurement, stopped together; an unclean exit counts as a crash. */
export class ProcGroup {
  readonly #procs: [string, Proc][] = [];

  add<P extends Proc>(name: string, p: P): P {
    this.#procs.push([name, p]);
    return p;
  }

  /** Stops in reverse start order; returns a sentence per process that did not exit with 0. */
  async stopAll(): Promise<string[]> {
    const problems: string[] = [];
    for (const [name, p] of this.#procs.reverse()) {
      const code = await p.stop();
      if (code !== 0 && name !== 'next start') {
        problems.push(`${name} did not exit cleanly (${code}); its last output:\n${p.output().slice(-2000)}`);
      }
    }
    this.#procs.length = 0;
    return problems;
  }
}
