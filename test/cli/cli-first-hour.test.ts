/**
 * What a newcomer meets first with the CLI (issue 12, items 7 and 8), as real processes:
 * `npm run client` typed in another folder, several files with some wrong, small files.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, ROOT, spawnPart } from '../support/processes';
import { queryDb } from '../support/server-state';

const run = promisify(execFile);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` in `cwd` to completion, whatever its exit status. */
async function runIn(
  cwd: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Run> {
  try {
    const { stdout, stderr } = await run(cmd, args, {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const r = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof r.code === 'number' ? r.code : -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  }
}

const cli = (cwd: string, args: string[]) =>
  runIn(cwd, process.execPath, [path.join(ROOT, 'cli/bin.mjs'), '--protocol', '3', ...args]); // protocol 3's first hour

let tmp: string;
let server: Listening;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sft-cli-first-'));
  server = await spawnPart('server', ['--port', '0', '--data', path.join(tmp, 'data')]);
});

afterAll(async () => {
  await server?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const clients = () =>
  queryDb<{ Name: string }>(path.join(tmp, 'data'), 'SELECT Name FROM clients').map((r) => r.Name);

describe('npm run client, typed in another folder', () => {
  it('resolves relative paths there and keeps the identity there, not in the repository', async () => {
    const here = path.join(tmp, 'where-i-am');
    await mkdir(path.join(here, 'sub'), { recursive: true });
    await writeFile(path.join(here, 'sub', 'rel.txt'), 'relative\n');
    // npm run always runs the script from the repository root; INIT_CWD is where it was typed.
    // A parent npm script's INIT_CWD and lifecycle name (npm test) must not win.
    const r = await runIn(
      here,
      'npm',
      [
        '--prefix',
        ROOT,
        'run',
        'client',
        '--',
        '--protocol',
        '3',
        '--server',
        `127.0.0.1:${server.port}`,
        '--name',
        'typed',
        'sub/rel.txt',
      ],
      { INIT_CWD: ROOT, npm_lifecycle_event: 'test' },
    );
    expect(r.stderr).not.toContain('does not exist');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^rel\.txt {2}9 bytes {2}CRC \d+ {2}verified$/m);
    expect((await stat(path.join(here, 'me.info'))).isFile()).toBe(true);
    expect((await stat(path.join(here, 'priv.key'))).isFile()).toBe(true);
    await expect(stat(path.join(ROOT, 'me.info'))).rejects.toThrow();
  }, 90_000);

  it('without -- npm takes the options for itself: the client says so, sends nothing and exits 2', async () => {
    const here = path.join(tmp, 'forgot-dashes');
    await mkdir(here, { recursive: true });
    await writeFile(path.join(here, 'a.txt'), 'a');
    const r = await runIn(here, 'npm', [
      '--prefix',
      ROOT,
      'run',
      'client',
      '--server',
      `127.0.0.1:${server.port}`,
      '--name',
      'forgot',
      'a.txt',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('npm took --server, --name for itself');
    expect(r.stderr).toContain("put -- before the client's options");
    // (npm's own banner is on stdout.)
    expect(r.stdout).not.toContain('verified');
    expect(clients()).not.toContain('forgot');
  }, 90_000);
});

describe('several files', () => {
  it('checks every argument first, names each wrong one, sends none and exits 2', async () => {
    const dir = await mkdtemp(path.join(tmp, 'three-'));
    await writeFile(path.join(dir, 'good.txt'), 'good');
    await mkdir(path.join(dir, 'a-folder'));
    const r = await cli(dir, [
      '--server',
      `127.0.0.1:${server.port}`,
      '--name',
      'checker',
      'good.txt',
      'missing.bin',
      'a-folder',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('2 of 3 files cannot be sent, so none was sent');
    expect(r.stderr).toContain('missing.bin does not exist');
    expect(r.stderr).toContain('a-folder is not a regular file');
    expect(r.stderr).not.toContain('good.txt');
    expect(r.stdout).toBe('');
    expect(clients()).not.toContain('checker');
  });

  it('one line per file, and no speed for a sub-second transfer', async () => {
    const dir = await mkdtemp(path.join(tmp, 'small-'));
    await writeFile(path.join(dir, 'a.txt'), 'a');
    await writeFile(path.join(dir, 'b.txt'), 'bb');
    const r = await cli(dir, ['--server', `127.0.0.1:${server.port}`, '--name', 'small', 'a.txt', 'b.txt']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^a\.txt {2}1 bytes {2}CRC \d+ {2}verified\nb\.txt {2}2 bytes {2}CRC \d+ {2}verified\n$/,
    );
    // Nothing else about the files on stderr: no second line, no "(0.0 MiB/s)".
    expect(r.stderr).not.toMatch(/a\.txt|b\.txt|MiB\/s/);
  });
});

describe('.gitignore', () => {
  it('covers identity files anywhere, the data folder and bench results', async () => {
    const paths = [
      'me.info',
      'priv.key',
      'transfer.info',
      'sub/dir/me.info',
      'sub/priv.key',
      'v4.key',
      'sub/v4.name',
      'v4-uploads.json',
      'sub/known_servers',
      'data/x.db',
      'bench-results/r.json',
    ];
    const r = await runIn(ROOT, 'git', ['check-ignore', '--no-index', ...paths]);
    expect(r.stdout.trim().split('\n').sort()).toEqual([...paths].sort());
  });
});
