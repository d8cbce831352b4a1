/**
 * The processes a benchmark run needs, each its own PID so its peak RSS can be read:
 * file server, bridge, `next start`, the real CLI, all started through the one spawn
 * helper (test/support/processes). 127.0.0.1 and ephemeral ports only; every spawn is
 * recorded so the bench can stop exactly what it started.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  bin,
  killAllStarted,
  type Listening,
  type Started,
  spawnPart,
  startPart,
  startProcess,
  waitForOutput,
} from '../test/support/processes';

export { freePort, ROOT } from '../test/support/processes';

/** Stops everything still running that the bench started (on exit or Ctrl-C). */
export const killAll = killAllStarted;

/** A process of the bench (test/support/processes), keeping the last 64 KiB of output. */
export type Proc = Started;

const KEEP = 64 * 1024;

export function start(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Proc {
  return startProcess(cmd, cmd, args, { ...opts, outputLimit: KEEP });
}

/** Resolves with the first match of `re` in the process output, or rejects if it exits first. */
export function waitFor(p: Proc, re: RegExp, what: string, timeoutMs = 60_000): Promise<RegExpExecArray> {
  return waitForOutput(p, re, what, timeoutMs);
}

export type ServerProc = Listening;

/** `server/main.ts` as its own node process on a free port (SFT_BENCH_SERVER_FLAGS add node flags). */
export function startServer(dataDir: string, extra: string[] = []): Promise<ServerProc> {
  // Every bench client comes from 127.0.0.1 (100 register at once): the per-source limits
  // against strangers (docs/SECURITY.md) are not what is measured here.
  const unlimited = [
    ...['--register-per-minute', '1000000', '--reconnect-per-minute', '1000000'],
    ...['--handshakes-per-minute', '1000000'],
  ];
  return spawnPart(
    'server',
    ['--host', '127.0.0.1', '--port', '0', '--data', dataDir, ...unlimited, ...extra],
    {
      outputLimit: KEEP,
    },
  );
}

export interface BridgeProc extends Listening {
  url: string;
  bufferutil: string;
}

export async function startBridge(targetPort: number, origins: string[]): Promise<BridgeProc> {
  const p = await spawnPart(
    'bridge',
    [
      '--listen',
      '127.0.0.1:0',
      '--target',
      `127.0.0.1:${targetPort}`,
      ...origins.flatMap((o) => ['--origin', o]),
    ],
    { outputLimit: KEEP },
  );
  return Object.assign(p, { url: String(p.event.url), bufferutil: String(p.event.bufferutil) });
}

/** The real CLI (`cli/main.ts`) as its own process. */
export function startCli(args: string[], cwd: string, protocol: '3' | '4' = '3'): Proc {
  return startPart('cli', ['--protocol', protocol, ...args], { cwd, outputLimit: KEEP });
}

/** `next start` of the existing production build on `port`. */
export async function startNext(port: number, env: Record<string, string>): Promise<Proc> {
  const p = startProcess('next start', bin('next'), ['start', '-H', '127.0.0.1', '-p', String(port)], {
    env,
    outputLimit: KEEP,
  });
  await waitFor(p, /Ready in|started server on/i, 'next start', 120_000);
  return p;
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

/**
 * CPU seconds of this process's children that have exited and been waited for (Linux
 * cutime + cstime): the difference across one child's life is that child's whole CPU, to
 * its last instruction (a poll of /proc/PID misses the end).
 */
export function reapedChildrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
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
