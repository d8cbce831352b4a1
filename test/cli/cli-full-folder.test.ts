/**
 * The CLI's own folder full while it writes v4-uploads.json (a tmpfs of 1 MiB filled up):
 * the file is still sent and stored, and the run says that a cut now would start over. Before,
 * the write's ENOSPC ended the run at once, nothing stored, the server holding the upload's
 * part. Needs root to mount a tmpfs; skipped with a message otherwise.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killCliRuns, runCli } from '../support/cli-process';
import { type Listening, spawnPart } from '../support/processes';
import { tempDir, tryMountTmpfs } from '../support/server-helpers';
import { queryDb } from '../support/server-state';

const work = tempDir('sft-cli-full-');
const cliDir = path.join(work.path, 'cli');
mkdirSync(cliDir);
const mounted = tryMountTmpfs(cliDir, '1m');
if (!mounted) console.warn('cli-full-folder.test.ts skipped: cannot mount a tmpfs here (needs root).');
const data = path.join(work.path, 'data');
let server: Listening;

beforeAll(async () => {
  if (mounted) server = await spawnPart('server', ['--port', '0', '--data', data]);
});
afterAll(async () => {
  await server?.stop();
  killCliRuns();
  if (mounted) execFileSync('umount', ['-l', cliDir]);
  work.remove();
});

function fill(file: string): void {
  const fd = openSync(file, 'w');
  try {
    for (let i = 0; i < 4096; i++) writeSync(fd, Buffer.alloc(4096));
  } catch {
    // full
  }
  closeSync(fd);
}

describe.runIf(mounted)("the CLI's folder full", () => {
  it('writing v4-uploads.json fails with ENOSPC: the file is sent and stored anyway, and the run says what that costs', async () => {
    const at = `127.0.0.1:${server.port}`;
    const small = path.join(work.path, 'small.bin');
    writeFileSync(small, randomBytes(1000));
    const first = await runCli(['--server', at, '--name', 'fuller', small], cliDir);
    expect(first.code, first.stderr).toBe(0);
    fill(path.join(cliDir, 'ballast'));
    const big = path.join(work.path, 'big.bin');
    const bytes = randomBytes(3 * 1024 * 1024);
    writeFileSync(big, bytes);
    const run = await runCli(['--server', at, big], cliDir);
    expect(run.stderr).not.toMatch(/Unexpected error|\n\s+at /);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(
      /Cannot write .*v4-uploads\.json.*ENOSPC.* Sending big\.bin anyway: if this run is cut, a later run sends it from the beginning\./,
    );
    expect(run.stderr).not.toMatch(/Its entry/);
    const rows = queryDb<{ PathName: string }>(data, "SELECT PathName FROM files WHERE FileName = 'big.bin'");
    const stored = readFileSync(path.join(data, 'files', rows[0]!.PathName));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(
      createHash('sha256').update(bytes).digest('hex'),
    );
  }, 60_000);
});
