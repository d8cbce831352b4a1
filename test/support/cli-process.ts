/** The CLI (cli/bin.mjs) as its own process, run to completion, for end-to-end tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT } from './processes';

export const CLI_BIN = path.join(ROOT, 'cli/bin.mjs');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const children = new Set<ChildProcess>();

/** Runs the CLI to completion in `cwd`; `started` gets the child process (e.g. to signal it). */
export function runCli(
  args: string[],
  cwd: string,
  started?: (child: ChildProcess) => void,
  env: Record<string, string> = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    children.add(child);
    started?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

/** SIGKILLs every CLI still running (for afterAll). */
export function killCliRuns(): void {
  for (const c of children) c.kill('SIGKILL');
}
