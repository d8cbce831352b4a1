/**
 * Starting and stopping the real programs for the end-to-end tests: each in its own process
 * group (so tsx's child goes too), output to a log file, stopped by PID only.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export const ROOT = new URL('../..', import.meta.url).pathname;
export const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

export interface Proc {
  name: string;
  proc: ChildProcess;
  logPath: string;
  stop(): Promise<void>;
}

/** A free loopback port (bound to 0, read back, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export function startProcess(
  name: string,
  cmd: string,
  args: string[],
  opts: { logDir: string; env?: Record<string, string> },
): Proc {
  const logPath = join(opts.logDir, `${name}.log`);
  const log = createWriteStream(logPath, { flags: 'a' });
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  proc.stdout?.pipe(log, { end: false });
  proc.stderr?.pipe(log, { end: false });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  return {
    name,
    proc,
    logPath,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const pid = proc.pid!;
      try {
        process.kill(-pid, 'SIGTERM'); // the group this process leads
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 5000);
      await exited;
      clearTimeout(timer);
      log.end();
    },
  };
}

/** Resolves once something accepts TCP connections on the port; rejects after `timeoutMs`. */
export async function waitForPort(
  port: number,
  what: string,
  proc?: Proc,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.proc.exitCode !== null) {
      throw new Error(`${what} exited (code ${proc.proc.exitCode}) before listening; see ${proc.logPath}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Resolves once `url` answers HTTP 200. */
export async function waitForHttp(url: string, what: string, proc?: Proc, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.proc.exitCode !== null) {
      throw new Error(`${what} exited (code ${proc.proc.exitCode}); see ${proc.logPath}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${what} did not answer ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
