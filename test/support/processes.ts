/**
 * The one way tests, the e2e suite, the bench and the fuzz script run our programs as real
 * processes: `spawnPart('server' | 'bridge', args)` starts `<part>/main.ts` under node with
 * the tsx loader (one PID, the program's own), waits for its `"event":"listening"` JSON
 * line and returns the host and port it took (pass `--port 0` / `--listen 127.0.0.1:0`),
 * its PID, its JSON lines and output, and a stop function that signals that PID (or the
 * process group it leads, for `group: true`) and nothing else.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allocatorEnv, HEAP_FLAGS } from '../../platform/allocator-env';
import { readEnv } from '../../platform/options';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');
export const TSX_LOADER = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
export const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

/** Our programs, by the folder their main.ts is in. */
export type Part = 'server' | 'bridge' | 'cli';

export interface StartOptions {
  /** Working folder (default: the repository). */
  cwd?: string;
  /** Added to this process's environment (NODE_OPTIONS is cleared). */
  env?: Record<string, string>;
  /** Keep about the last this many characters of output (long bench runs); default all. */
  outputLimit?: number;
  /** Also append stdout and stderr to this file. */
  logFile?: string;
  /** Lead a process group and stop the whole group (for programs with children: next). */
  group?: boolean;
  /** Run under `ulimit -f` (KiB): writes past it fail with EFBIG, as on a full disk. */
  fileSizeLimitKiB?: number;
  /** Run with this umask (e.g. '000', to prove the server sets its own modes). */
  umask?: string;
  /** A module imported before `<part>/main.ts` (after tsx): a test acting inside the process (test/support/kill-at.ts). */
  preload?: string;
}

export interface Started {
  name: string;
  pid: number;
  proc: ChildProcess;
  /** The JSON lines printed on stdout so far, parsed. */
  lines: Record<string, unknown>[];
  /** Stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when a signal ended it) once its output is closed. */
  exited: Promise<number | null>;
  /** Sends `signal` (default SIGTERM; SIGKILL after `graceMs`) and waits for the exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
  /** Resident set size now, bytes (Linux /proc); 0 once gone. */
  rss(): number;
}

const running = new Set<Started>();
/** Started with `group: true`: signalled as the process group they lead. */
const groups = new WeakSet<Started>();

/** SIGKILLs everything started here that still runs (a bench's exit or Ctrl-C handler). */
export function killAllStarted(): void {
  for (const p of running) signal(p, 'SIGKILL');
}

function signal(p: Started, sig: NodeJS.Signals): void {
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  try {
    process.kill(groups.has(p) ? -p.pid : p.pid, sig);
  } catch {
    // gone meanwhile
  }
}

/** Starts `cmd args` with piped output; does not wait for anything. */
export function startProcess(name: string, cmd: string, args: string[], opts: StartOptions = {}): Started {
  const shell = [
    ...(opts.fileSizeLimitKiB === undefined ? [] : [`ulimit -f ${opts.fileSizeLimitKiB}`]),
    ...(opts.umask === undefined ? [] : [`umask ${opts.umask}`]),
  ];
  const [command, argv] =
    shell.length === 0
      ? [cmd, args]
      : ['bash', ['-c', `${shell.join(' && ')} && exec "$0" "$@"`, cmd, ...args]];
  const proc = spawn(command, argv, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, NODE_OPTIONS: '', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.group === true,
  });
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const lines: Record<string, unknown>[] = [];
  let out = '';
  const keep = (text: string) => {
    out += text;
    if (opts.outputLimit !== undefined && out.length > 2 * opts.outputLimit)
      out = out.slice(-opts.outputLimit);
  };
  let rest = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    keep(d);
    log?.write(d);
    const parts = (rest + d).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    keep(d);
    log?.write(d);
  });
  const exited = new Promise<number | null>((res) => {
    proc.once('error', () => res(null));
    proc.once('close', (code) => {
      running.delete(started);
      log?.end();
      res(code);
    });
  });
  const started: Started = {
    name,
    pid: proc.pid ?? -1,
    proc,
    lines,
    output: () => out,
    exited,
    async stop(sig: NodeJS.Signals = 'SIGTERM', graceMs = 10_000) {
      signal(started, sig);
      const timer = sig === 'SIGKILL' ? undefined : setTimeout(() => signal(started, 'SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    rss() {
      try {
        const status = readFileSync(`/proc/${started.pid}/status`, 'utf8');
        return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
      } catch {
        return 0;
      }
    },
  };
  if (opts.group) groups.add(started);
  running.add(started);
  return started;
}

/**
 * Extra node flags for a part's process, for profiling: SFT_BENCH_SERVER_FLAGS,
 * SFT_BENCH_BRIDGE_FLAGS, SFT_BENCH_CLI_FLAGS (e.g. "--cpu-prof --cpu-prof-dir=prof").
 */
export function nodeFlags(part: Part, env: NodeJS.ProcessEnv = process.env): string[] {
  const warnings: string[] = [];
  const old = part === 'bridge' ? ['BRIDGE_NODE_FLAGS'] : [];
  const found = readEnv(env, `SFT_BENCH_${part.toUpperCase()}_FLAGS`, old, warnings);
  for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
  return found?.text.split(' ').filter(Boolean) ?? [];
}

/** `<part>/main.ts` under node with the tsx loader (one PID); does not wait for anything. */
export function startPart(part: Part, args: string[], opts: StartOptions = {}): Started {
  return startProcess(
    part,
    process.execPath,
    [
      ...(part === 'cli' ? [] : HEAP_FLAGS),
      ...nodeFlags(part),
      '--import',
      TSX_LOADER,
      ...(opts.preload ? ['--import', pathToFileURL(opts.preload).href] : []),
      join(ROOT, part, 'main.ts'),
      ...args,
    ],
    // JSON lines whatever the environment says: the listening event is read from them.
    { ...opts, env: { ...allocatorEnv(), SFT_LOG_FORMAT: 'json', ...opts.env } },
  );
}

/** Runs `<part>/main.ts` to completion (a command such as `files` or `--help`); returns its stdout. */
export function runPart(part: Part, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(process.execPath, commandArgs(part, args), commandOptions(opts));
}

/** node's arguments for running `<part>/main.ts` to completion. */
const commandArgs = (part: Part, args: string[]) => [
  '--import',
  TSX_LOADER,
  join(ROOT, part, 'main.ts'),
  ...args,
];
const commandOptions = (opts: { cwd?: string }) => ({
  cwd: opts.cwd ?? ROOT,
  encoding: 'utf8' as const,
  env: { ...process.env, NODE_OPTIONS: '' },
});

/**
 * runPart without blocking this process: the e2e suite's flip proxy and its watchers live in
 * the test runner's event loop, and a synchronous run (1-3 s of tsx start) freezes them, so
 * connections the page opens meanwhile stall in the proxy's backlog. Rejects with the output.
 */
export function runPartAsync(part: Part, args: string[], opts: { cwd?: string } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, commandArgs(part, args), commandOptions(opts), (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr, message: `${err.message}\n${stderr}` }));
      else resolve(stdout);
    });
  });
}

export interface Listening extends Started {
  host: string;
  port: number;
  /** The whole `listening` line (the bridge's has url, target, bufferutil ...). */
  event: Record<string, unknown>;
}

/** Starts a server or bridge and resolves once it logs `listening` (rejects if it exits first). */
export async function spawnPart(
  part: 'server' | 'bridge',
  args: string[],
  opts: StartOptions & { timeoutMs?: number } = {},
): Promise<Listening> {
  const p = startPart(part, args, opts);
  try {
    const event = await waitForEvent(p, 'listening', opts.timeoutMs);
    return Object.assign(p, { host: String(event.host), port: Number(event.port), event });
  } catch (e) {
    await p.stop('SIGKILL');
    throw e;
  }
}

/** The first JSON line with `"event": event`, waiting for it (bounded). */
export function waitForEvent(
  p: Started,
  event: string,
  timeoutMs = 60_000,
): Promise<Record<string, unknown>> {
  return waitUntil(p, () => p.lines.find((l) => l.event === event), `its "${event}" event`, timeoutMs);
}

/** The first match of `re` in the output, waiting for it (bounded). */
export function waitForOutput(
  p: Started,
  re: RegExp,
  what: string,
  timeoutMs = 60_000,
): Promise<RegExpExecArray> {
  return waitUntil(p, () => re.exec(p.output()) ?? undefined, what, timeoutMs);
}

function waitUntil<T>(p: Started, found: () => T | undefined, what: string, timeoutMs: number): Promise<T> {
  return new Promise((res, rej) => {
    const check = () => {
      const v = found();
      if (v === undefined) return;
      cleanup();
      res(v);
    };
    const fail = (why: string) => {
      cleanup();
      rej(new Error(`${p.name} (pid ${p.pid}) ${why}:\n${p.output().slice(-4000)}`));
    };
    const timer = setTimeout(() => fail(`did not print ${what} within ${timeoutMs / 1000} s`), timeoutMs);
    // 'close', not 'exit': by then every byte it wrote has been read and checked.
    const onExit = () => fail(`exited (code ${p.proc.exitCode}) before it printed ${what}`);
    const cleanup = () => {
      clearTimeout(timer);
      p.proc.stdout!.off('data', check);
      p.proc.stderr!.off('data', check);
      p.proc.off('close', onExit);
    };
    // Listeners added after startProcess's own, so a chunk is parsed before it is checked.
    p.proc.stdout!.on('data', check);
    p.proc.stderr!.on('data', check);
    p.proc.once('close', onExit);
    check();
  });
}

/** A free loopback port (bound to 0, read back, released). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

/** True while the process exists (signal 0 probes without signalling). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once `url` answers HTTP 200; rejects when `p` exits first or after `timeoutMs`. */
export async function waitForHttp(url: string, p: Started, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (p.proc.exitCode !== null)
      throw new Error(`${p.name} exited (code ${p.proc.exitCode}):\n${p.output().slice(-4000)}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline)
      throw new Error(`${p.name} did not answer ${url} within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
