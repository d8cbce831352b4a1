/**
 * The CLI with protocol 4 (the default, `--protocol auto`) against the real server process:
 * SHA-256 printed and equal to the stored file's, the server key pinned in known_servers,
 * a changed key refused with a warning, fallback to protocol 3 for a server that does not
 * speak 4, resume within one run and on a later run, the name kept with the v4 key (v4.name).
 */
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { access, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killCliRuns, runCli } from '../support/cli-process';
import { type Listening, runPart, spawnPart } from '../support/processes';
import { queryDb } from '../support/server-state';
import { startV3OnlyFront, startV4Proxy } from '../support/v4-proxy';

const MIB = 1024 * 1024;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let tmp: string;
let server: Listening;
let data: string;

async function storedSha(name: string): Promise<string> {
  const rows = queryDb<{ PathName: string }>(data, `SELECT PathName FROM files WHERE FileName = '${name}'`);
  return sha(await readFile(path.join(data, 'files', rows.at(-1)!.PathName)));
}

async function makeFile(dir: string, name: string, size: number): Promise<Buffer> {
  const bytes = randomBytes(size);
  await writeFile(path.join(dir, name), bytes);
  return bytes;
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sft-cli4-'));
  data = path.join(tmp, 'data');
  server = await spawnPart('server', ['--port', '0', '--data', data]);
});

afterAll(async () => {
  await server?.stop();
  killCliRuns();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('CLI protocol 4', () => {
  it('a reader of stdout that goes away (--json | head -1) does not stop the uploads: both files stored, exit 0', async () => {
    const dir = await mkdtemp(path.join(tmp, 'pipe-'));
    const a = await makeFile(dir, 'pipe-a.bin', MIB);
    const b = await makeFile(dir, 'pipe-b.bin', MIB);
    // Our end of its stdout closed at once: its first line gets EPIPE (an unhandled error
    // that ended the CLI before the second file).
    const run = await runCli(
      ['--server', `127.0.0.1:${server.port}`, '--name', 'piper', '--json', 'pipe-a.bin', 'pipe-b.bin'],
      dir,
      (child) => child.stdout?.destroy(),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain('EPIPE');
    expect(await storedSha('pipe-a.bin')).toBe(sha(a));
    expect(await storedSha('pipe-b.bin')).toBe(sha(b));
  }, 60_000);

  it('sends with protocol 4 by default, prints the SHA-256 and pins the server key', async () => {
    const dir = await mkdtemp(path.join(tmp, 'a-'));
    const bytes = await makeFile(dir, 'résumé.bin', 3 * MIB + 1);
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, '--name', 'alice', 'résumé.bin'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`SHA-256 ${sha(bytes)}  verified`);
    // The name as sent is kept in the database; the file on disk has an ASCII name, said so.
    expect(run.stdout).toMatch(/ {2}stored as r_sum_\.bin\n$/);
    expect(await storedSha('résumé.bin')).toBe(sha(bytes));
    const known = await readFile(path.join(dir, 'known_servers'), 'utf8');
    expect(known.trim()).toBe(`127.0.0.1:${server.port} ${server.event.fingerprint}`);
    expect(run.stderr).toContain(`Pinned the key of 127.0.0.1:${server.port} on first use`);
    expect((await stat(path.join(dir, 'v4.key'))).mode & 0o777).toBe(0o600);
    // --json carries the hash too; a second run reuses the identity and the pin.
    const again = await runCli(['--server', `127.0.0.1:${server.port}`, '--json', 'résumé.bin'], dir);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      name: 'résumé.bin',
      status: 'verified',
      sha256: sha(bytes),
      protocol: 4,
    });
    // Seconds to the millisecond.
    expect(String(JSON.parse(again.stdout).seconds)).toMatch(/^\d+(\.\d{1,3})?$/);
    expect(again.stderr).not.toContain('Pinned');
  });

  it('keeps the name with the v4 key: a later run needs no --name; another --name is refused (exit 2)', async () => {
    const dir = await mkdtemp(path.join(tmp, 'e-'));
    await makeFile(dir, 'one.bin', 1000);
    await makeFile(dir, 'two.bin', 2000);
    const at = `127.0.0.1:${server.port}`;
    const kept = path.join(dir, 'v4.name');
    const first = await runCli(['--server', at, '--name', 'erin', 'one.bin'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain(`Kept the name "erin" with this key in ${kept}`);
    expect(await readFile(kept, 'utf8')).toBe('erin\n');
    expect((await stat(kept)).mode & 0o777).toBe(0o600);

    const second = await runCli(['--server', at, 'two.bin'], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toContain(`Connected to ${at} with protocol 4.`);
    expect(second.stderr).not.toContain('Kept the name');
    // One client on the server, under the kept name, holds both files.
    const listed = runPart('server', ['files', '--data', data])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { fileName: string; client: string; clientId: string })
      .filter((f) => f.fileName === 'one.bin' || f.fileName === 'two.bin');
    expect(listed).toHaveLength(2);
    expect(new Set(listed.map((f) => f.clientId)).size).toBe(1);
    expect(listed[0]!.client).toMatch(/^erin \[v4 /);

    const other = await runCli(['--server', at, '--name', 'frank', 'two.bin'], dir);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`${kept} holds the protocol 4 identity (v4.key) of "erin", not "frank".`);
    expect(other.stderr).toContain('Use another --dir for "frank", or drop --name to send as "erin".');
    expect(await readFile(kept, 'utf8')).toBe('erin\n');
  });

  it("ws:// to the file server's own port says to give it without ws://", async () => {
    const dir = await mkdtemp(path.join(tmp, 'ws-'));
    await makeFile(dir, 'w.bin', 1000);
    const run = await runCli(['--server', `ws://127.0.0.1:${server.port}/`, '--name', 'wes', 'w.bin'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `Cannot reach the bridge at ws://127.0.0.1:${server.port}/: that address did not answer as a WebSocket bridge (its answer is not HTTP). If it is the file server, give it without ws://, as --server 127.0.0.1:${server.port}.`,
    );
  });

  it('refuses a changed server key with a warning naming both fingerprints, sending nothing', async () => {
    const dir = await mkdtemp(path.join(tmp, 'b-'));
    await makeFile(dir, 'x.bin', 1000);
    const fake = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    await writeFile(path.join(dir, 'known_servers'), `127.0.0.1:${server.port} ${fake}\n`);
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, '--name', 'bob', 'x.bin'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('WARNING');
    expect(run.stderr).toContain(fake);
    expect(run.stderr).toContain(String(server.event.fingerprint));
    expect(queryDb(data, `SELECT 1 FROM files WHERE FileName = 'x.bin'`)).toEqual([]);
  });

  it('--protocol auto falls back to protocol 3 on a new connection for a server without 4', async () => {
    const front = await startV3OnlyFront(server.port);
    try {
      const dir = await mkdtemp(path.join(tmp, 'c-'));
      await makeFile(dir, 'old.bin', 70_000);
      const run = await runCli(['--server', `127.0.0.1:${front.port}`, '--name', 'carol', 'old.bin'], dir);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toContain('Using protocol 3 on a new connection');
      expect(run.stdout).toMatch(/old\.bin {2}70000 bytes {2}CRC \d+ {2}verified/);
      const forced = await runCli(['--server', `127.0.0.1:${front.port}`, '--protocol', '4', 'old.bin'], dir);
      expect(forced.code).toBe(1);
      expect(forced.stderr).toContain('version 3 only');
    } finally {
      await front.close();
    }
  });

  it('a server at its connection cap (Busy, 9) is waited out: the CLI tries again and sends the file', async () => {
    const dir = await mkdtemp(path.join(tmp, 'busy-'));
    const bytes = await makeFile(dir, 'wait.bin', 2 * MIB + 3);
    const full = await spawnPart('server', [
      '--port',
      '0',
      '--data',
      path.join(tmp, 'data-busy'),
      '--max-connections',
      '1',
    ]);
    // A peer that sent one byte and no more holds the one connection the server takes (a
    // byte, so the server stops waiting for a PROXY header and counts it at once).
    const hold = net.connect(full.port, '127.0.0.1');
    await once(hold, 'connect');
    hold.write(Buffer.from([1]));
    await new Promise((r) => setTimeout(r, 300));
    try {
      const args = ['--server', `127.0.0.1:${full.port}`, '--name', 'bea', 'wait.bin'];
      // Busy for longer than the CLI waits (4 tries over about 6 s): it gives up, saying why.
      const gaveUp = await runCli(args, dir);
      expect(gaveUp.code).toBe(1);
      expect(gaveUp.stderr.match(/refused for now/g)).toHaveLength(3);
      expect(gaveUp.stderr).toContain('Error: The server is busy; try again in a moment.');
      const refusedBefore = full.lines.filter((l) => l.event === 'connection-refused').length;
      const run = runCli(args, dir);
      // Released once the server has refused the CLI at least once.
      const deadline = Date.now() + 30_000;
      const refusals = () => full.lines.filter((l) => l.event === 'connection-refused').length;
      while (refusals() === refusedBefore && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(refusals()).toBeGreaterThan(refusedBefore);
      hold.destroy();
      const done = await run;
      expect(done.code, done.stderr).toBe(0);
      expect(done.stderr).toContain('The server is busy; try again in a moment.');
      expect(done.stderr).toContain(`The server at 127.0.0.1:${full.port} refused for now`);
      // Nothing was taken before the refusal: a fresh start, not a resume of an unknown upload.
      expect(done.stderr).not.toContain('from the beginning');
      expect(done.stdout).toContain(`SHA-256 ${sha(bytes)}  verified`);
    } finally {
      hold.destroy();
      await full.stop();
    }
  });

  it('resumes within one run after a cut, and on a later run of the same command', async () => {
    const dir = await mkdtemp(path.join(tmp, 'd-'));
    const bytes = await makeFile(dir, 'big.bin', 24 * MIB + 9);
    // Every connection is cut after 5 MiB: four tries get about 20 MiB through, not all.
    const proxy = await startV4Proxy({ targetPort: server.port, cutAfter: 5 * MIB });
    try {
      const args = ['--server', `127.0.0.1:${proxy.port}`, '--name', 'dave', 'big.bin'];
      const first = await runCli(args, dir);
      expect(first.code).toBe(1);
      expect(first.stderr).toMatch(
        new RegExp(
          `The connection to 127\\.0\\.0\\.1:${proxy.port} was lost( \\([^()]+\\))?; reconnecting to resume big\\.bin\\.\\.\\.\\n`,
        ),
      );
      // A resume is said as one, not as protocol 3's CRC retry.
      expect(first.stderr).toContain(
        'big.bin: reconnected; resuming where the server left off (attempt 2 of 4)',
      );
      expect(first.stderr).not.toContain('CRC');
      expect(JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8'))).toHaveLength(1);
      proxy.armed = false;
      const second = await runCli(args, dir);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toContain('Resuming the unfinished upload of big.bin');
      expect(second.stdout).toMatch(/resumed at record \d+/);
      expect(second.stdout).toContain(sha(bytes));
      expect(await storedSha('big.bin')).toBe(sha(bytes));
      expect(JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8'))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('Ctrl-C mid-upload exits 130 saying the same command continues the file; the next run resumes it', async () => {
    const dir = await mkdtemp(path.join(tmp, 'int-'));
    const bytes = await makeFile(dir, 'slow.bin', 48 * MIB);
    // About 6 MiB/s: the upload is under way for seconds.
    const proxy = await startV4Proxy({ targetPort: server.port, trickleMs: 10, trickleBytes: 64 * 1024 });
    try {
      const args = ['--server', `127.0.0.1:${proxy.port}`, '--name', 'ines', 'slow.bin'];
      const run = await runCli(args, dir, (child) => void interruptOnceKept(child, dir));
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain(
        'Interrupted. Run the same command again to continue slow.bin from where the server has it.',
      );
      expect(JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8'))).toHaveLength(1);
      proxy.opts.trickleMs = undefined;
      const again = await runCli(args, dir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('Resuming the unfinished upload of slow.bin');
      expect(again.stdout).toMatch(/resumed at record [1-9]\d*/);
      expect(again.stdout).toContain(sha(bytes));
    } finally {
      await proxy.close();
    }
  });

  it('kill -9 of the CLI mid-upload: the next run of the same command resumes the file, stored once, byte-identical', async () => {
    const dir = await mkdtemp(path.join(tmp, 'kill-'));
    const bytes = await makeFile(dir, 'killed.bin', 48 * MIB);
    const proxy = await startV4Proxy({ targetPort: server.port, trickleMs: 10, trickleBytes: 64 * 1024 });
    try {
      const args = ['--server', `127.0.0.1:${proxy.port}`, '--name', 'kim', 'killed.bin'];
      const run = await runCli(
        args,
        dir,
        (child) => void interruptOnceKept(child, dir, 'v4-uploads.json', 'SIGKILL'),
      );
      expect(run.code).toBeNull(); // no handler ran
      expect(JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8'))).toHaveLength(1);
      proxy.opts.trickleMs = undefined;
      const again = await runCli(args, dir);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toContain('Resuming the unfinished upload of killed.bin');
      expect(again.stdout).toMatch(/resumed at record [1-9]\d*/);
      expect(again.stdout).toContain(sha(bytes));
      expect(await storedSha('killed.bin')).toBe(sha(bytes));
      expect(queryDb(data, `SELECT PathName FROM files WHERE FileName = 'killed.bin'`)).toHaveLength(1);
      expect(JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8'))).toEqual([]);
      await expect(access(path.join(dir, 'v4-uploads.json.lock'))).rejects.toBeTruthy();
    } finally {
      await proxy.close();
    }
  });

  it('Ctrl-C mid-upload with protocol 3 says the next run starts the file over', async () => {
    const dir = await mkdtemp(path.join(tmp, 'int3-'));
    await makeFile(dir, 'slow3.bin', 48 * MIB);
    const proxy = await startV4Proxy({ targetPort: server.port, trickleMs: 10, trickleBytes: 64 * 1024 });
    try {
      const args = ['--server', `127.0.0.1:${proxy.port}`, '--protocol', '3', '--name', 'ivo', 'slow3.bin'];
      const run = await runCli(args, dir, (child) => void interruptOnceKept(child, dir, 'me.info'));
      expect(run.code, run.stderr).toBe(130);
      expect(run.stderr).toContain(
        'Interrupted. Protocol 3 cannot resume: the next run sends slow3.bin from the start.',
      );
    } finally {
      await proxy.close();
    }
  });
});

/** SIGINTs `child` a moment after `file` appears in `dir` (the upload is then under way). */
async function interruptOnceKept(
  child: ChildProcess,
  dir: string,
  file = 'v4-uploads.json',
  signal: NodeJS.Signals = 'SIGINT',
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const there = await access(path.join(dir, file)).then(
      () => true,
      () => false,
    );
    if (there || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await new Promise((r) => setTimeout(r, 700));
  child.kill(signal);
}
