/**
 * End to end: the CLI (cli/bin.mjs) against the real file server (server/main.ts), each a
 * separate process on 127.0.0.1 with ephemeral ports and temporary folders.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatMeInfo, generateRsaKeyPair, parseMeInfo } from '../../lib/crypto';
import { killCliRuns, type CliRun as Run, runCli as runCliProcess } from '../support/cli-process';
import { type FlipProxy, startFlipProxy } from '../support/flip-proxy';
import { spawnPart } from '../support/processes';
import { systemCksum } from '../support/server-helpers';
import { queryDb, sha256File } from '../support/server-state';

const MIB = 1024 * 1024;

/** The CLI's --json output: one object per line. */
const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** These are protocol 3's tests: said explicitly now that the CLI's default is auto (v4 first). */
function runCli(
  args: string[],
  cwd: string,
  started?: (child: ChildProcess) => void,
  env: Record<string, string> = {},
): Promise<Run> {
  return runCliProcess(['--protocol', '3', ...args], cwd, started, env);
}

interface ServerProc {
  port: number;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts server/main.ts on an ephemeral port; resolves once it logs its `listening` event. */
async function startServer(dataDir: string, extraArgs: string[] = []): Promise<ServerProc> {
  const p = await spawnPart('server', ['--port', '0', '--data', dataDir, ...extraArgs]);
  return {
    port: p.port,
    dataDir,
    stop: async () => {
      await p.stop();
    },
  };
}

interface FileRow {
  FileName: string;
  PathName: string;
  Verified: number;
  ClientName: string;
}

function fileRows(dataDir: string): FileRow[] {
  return queryDb<FileRow>(
    dataDir,
    'SELECT f.FileName, f.PathName, f.Verified, c.Name AS ClientName FROM files f JOIN clients c ON c.ID = f.ID',
  );
}

function clientNames(dataDir: string): string[] {
  return queryDb<{ Name: string }>(dataDir, 'SELECT Name FROM clients').map((r) => r.Name);
}

/** Summary lines on stdout by file name. */
function summaries(stdout: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of stdout.trim().split('\n')) if (line) m.set(line.split('  ')[0]!, line);
  return m;
}

let tmp: string;
let server: ServerProc;

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sft-cli-'));
  server = await startServer(path.join(tmp, 'data'));
});

afterAll(async () => {
  await server?.stop();
  killCliRuns();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('uploads to the real server', () => {
  const sizes = [0, 1, 15, 16, 17, MIB + 37, 50 * MIB];
  let dir: string;
  let first: Run;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmp, 'alice-'));
    for (const n of sizes) await writeFile(path.join(dir, `f${n}.bin`), randomBytes(n));
    first = await runCli(
      ['--server', `127.0.0.1:${server.port}`, '--name', 'alice', ...sizes.map((n) => `f${n}.bin`)],
      dir,
    );
  });

  it('registers, writes me.info and priv.key (0600, reference format), exits 0', async () => {
    expect(first.stderr).toContain('Registered with');
    expect(first.code).toBe(0);
    const me = parseMeInfo(await readFile(path.join(dir, 'me.info'), 'utf8'));
    expect(me.name).toBe('alice');
    expect(me.privateKeyPkcs8.length).toBeGreaterThan(500);
    const privKey = (await readFile(path.join(dir, 'priv.key'), 'utf8')).replace(/\s/g, '');
    expect(Buffer.from(privKey, 'base64')).toEqual(Buffer.from(me.privateKeyPkcs8));
    for (const f of ['me.info', 'priv.key']) expect((await stat(path.join(dir, f))).mode & 0o777).toBe(0o600);
  });

  it('stores every file byte for byte, Verified=1, with the CRC cksum prints', async () => {
    const rows = fileRows(server.dataDir).filter((r) => r.ClientName === 'alice');
    const lines = summaries(first.stdout);
    for (const n of sizes) {
      const name = `f${n}.bin`;
      const local = path.join(dir, name);
      const row = rows.find((r) => r.FileName === name);
      expect(row, name).toBeDefined();
      expect(row!.Verified).toBe(1);
      const stored = path.join(server.dataDir, 'files', row!.PathName);
      expect((await stat(stored)).size).toBe(n);
      expect(await sha256File(stored)).toBe(await sha256File(local));
      // A transfer of a second or more (a busy machine) adds its time and speed.
      expect(lines.get(name)).toMatch(
        new RegExp(
          `^${name.replace('.', '\\.')}  ${n} bytes  CRC ${systemCksum(local)}  verified(  in [\\d.]+ s, [\\d.]+ MiB/s)?$`,
        ),
      );
    }
  });

  it('after a server restart the CLI reconnects (1605) and uploads again', async () => {
    await server.stop();
    server = await startServer(server.dataDir);
    const meBefore = await readFile(path.join(dir, 'me.info'), 'utf8');
    await writeFile(path.join(dir, 'again.txt'), 'second run\n');
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, 'again.txt'], dir);
    expect(run.stderr).toContain('Reconnected');
    expect(run.stderr).not.toContain('Registered');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('again.txt  11 bytes');
    expect(run.stdout).toContain('verified');
    expect(await readFile(path.join(dir, 'me.info'), 'utf8')).toBe(meBefore);
    const row = fileRows(server.dataDir).find((r) => r.FileName === 'again.txt');
    expect(row?.Verified).toBe(1);
  });

  it('a second client with the same name gets 1601: a clear message and a nonzero exit', async () => {
    const other = await mkdtemp(path.join(tmp, 'dup-'));
    await writeFile(path.join(other, 'x.txt'), 'x');
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, '--name', 'alice', 'x.txt'], other);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/refused to register the name "alice": it is already taken/);
    expect(run.stderr).toContain('--name');
    await expect(stat(path.join(other, 'me.info'))).rejects.toThrow();
  });
});

describe('identity files', () => {
  it('an unknown client reconnecting gets 1606, registers anew and rewrites me.info', async () => {
    const dir = await mkdtemp(path.join(tmp, 'ghost-'));
    const pair = await generateRsaKeyPair(globalThis.crypto.subtle, { extractable: true });
    const staleId = new Uint8Array(randomBytes(16));
    await writeFile(
      path.join(dir, 'me.info'),
      formatMeInfo({ name: 'ghost', clientId: staleId, privateKeyPkcs8: pair.privateKeyPkcs8! }),
    );
    await writeFile(path.join(dir, 'g.txt'), 'boo');
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, 'g.txt'], dir);
    expect(run.stderr).toMatch(/rejected the reconnect of "ghost" \(1606\)/);
    expect(run.stderr).toContain('Registered');
    expect(run.code).toBe(0);
    const me = parseMeInfo(await readFile(path.join(dir, 'me.info'), 'utf8'));
    expect(me.name).toBe('ghost');
    expect(Buffer.from(me.clientId)).not.toEqual(Buffer.from(staleId));
    expect(fileRows(server.dataDir).find((r) => r.FileName === 'g.txt')?.Verified).toBe(1);
  });

  it('with no flags it behaves like the reference client: transfer.info in the working folder', async () => {
    const dir = await mkdtemp(path.join(tmp, 'ref-'));
    await writeFile(path.join(dir, 'data.bin'), randomBytes(5000));
    await writeFile(path.join(dir, 'transfer.info'), `127.0.0.1:${server.port}\nrefclient\ndata.bin\n`);
    const run = await runCli([], dir);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `data.bin  5000 bytes  CRC ${systemCksum(path.join(dir, 'data.bin'))}  verified\n`,
    );
    expect(parseMeInfo(await readFile(path.join(dir, 'me.info'), 'utf8')).name).toBe('refclient');
    // Second run from another folder with --dir: reconnects with me.info.
    const run2 = await runCli(['--dir', dir], tmp);
    expect(run2.code).toBe(0);
    expect(run2.stderr).toContain('Reconnected');
  });

  it('a --dir that does not exist yet is created 0700 and keeps the new identity', async () => {
    const base = await mkdtemp(path.join(tmp, 'newdir-'));
    await writeFile(path.join(base, 'n.txt'), 'new');
    const dir = path.join(base, 'not', 'yet');
    const run = await runCli(
      ['--server', `127.0.0.1:${server.port}`, '--name', 'newdir', '--dir', dir, 'n.txt'],
      base,
    );
    expect(run.code).toBe(0);
    expect(parseMeInfo(await readFile(path.join(dir, 'me.info'), 'utf8')).name).toBe('newdir');
    expect((await stat(path.join(dir, 'priv.key'))).mode & 0o777).toBe(0o600);
    // It holds the private key: its owner's only, like the folder made on the way.
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(path.join(base, 'not'))).mode & 0o777).toBe(0o700);
  });

  it('a --dir that cannot hold the identity stops before registering, so the name stays free', async () => {
    const base = await mkdtemp(path.join(tmp, 'baddir-'));
    await writeFile(path.join(base, 'b.txt'), 'b');
    await writeFile(path.join(base, 'a-file'), 'not a folder');
    const run = await runCli(
      [
        '--server',
        `127.0.0.1:${server.port}`,
        '--name',
        'baddir',
        '--dir',
        path.join(base, 'a-file', 'sub'),
        'b.txt',
      ],
      base,
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/cannot hold a new identity.*Nothing was sent/);
    expect(clientNames(server.dataDir)).not.toContain('baddir');
    // The name was never taken: a writable folder registers it.
    const ok = await runCli(['--server', `127.0.0.1:${server.port}`, '--name', 'baddir', 'b.txt'], base);
    expect(ok.code).toBe(0);
    expect(clientNames(server.dataDir)).toContain('baddir');
  });

  it('a malformed transfer.info is a configuration error (exit 2) naming the line', async () => {
    const dir = await mkdtemp(path.join(tmp, 'badinfo-'));
    await writeFile(path.join(dir, 'transfer.info'), `no-port-here\nname\nfile\n`);
    const run = await runCli([], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/transfer\.info.*line 1/);
  });

  it('a malformed me.info is a configuration error (exit 2)', async () => {
    const dir = await mkdtemp(path.join(tmp, 'badme-'));
    await writeFile(path.join(dir, 'me.info'), 'bob\nnot-an-id\nAAAA\n');
    await writeFile(path.join(dir, 'f.txt'), 'f');
    const run = await runCli(['--server', `127.0.0.1:${server.port}`, 'f.txt'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/me\.info.*line 2/);
  });
});

describe('failures', () => {
  it('CRC mismatch on all 4 attempts (1030 x3 + 1031): FAILED, nonzero exit, the server keeps no file', async () => {
    const proxy: FlipProxy = await startFlipProxy({ targetPort: server.port, flipOffset: 100 });
    try {
      const dir = await mkdtemp(path.join(tmp, 'flip-'));
      await writeFile(path.join(dir, 'victim.bin'), randomBytes(200_000));
      const run = await runCli(
        ['--server', `127.0.0.1:${proxy.port}`, '--name', 'flipper', 'victim.bin'],
        dir,
      );
      expect(run.code).toBe(1);
      expect(proxy.corrupted).toBe(4);
      const cksum = systemCksum(path.join(dir, 'victim.bin'));
      expect(run.stdout).toBe(`victim.bin  200000 bytes  CRC ${cksum}  FAILED after 4 attempts\n`);
      expect(run.stderr).toMatch(/differed from ours .* on all 4 attempts/);
      const rows = fileRows(server.dataDir).filter((r) => r.ClientName === 'flipper');
      expect(rows).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  it('after a file fails 4 times, the next file goes over the same connection and is verified', async () => {
    const proxy = await startFlipProxy({ targetPort: server.port, flipOffset: 40, corruptSequences: 4 });
    try {
      const dir = await mkdtemp(path.join(tmp, 'flip3-'));
      await writeFile(path.join(dir, 'first.bin'), randomBytes(1000));
      await writeFile(path.join(dir, 'second.bin'), randomBytes(2000));
      const run = await runCli(
        ['--server', `127.0.0.1:${proxy.port}`, '--name', 'flipper3', 'first.bin', 'second.bin'],
        dir,
      );
      expect(run.code).toBe(1);
      const lines = run.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^first\.bin {2}1000 bytes {2}CRC \d+ {2}FAILED after 4 attempts$/);
      expect(lines[1]).toBe(
        `second.bin  2000 bytes  CRC ${systemCksum(path.join(dir, 'second.bin'))}  verified`,
      );
      expect(proxy.sequences).toBe(5);
      const rows = fileRows(server.dataDir).filter((r) => r.ClientName === 'flipper3');
      expect(rows.map((r) => [r.FileName, r.Verified])).toEqual([['second.bin', 1]]);
    } finally {
      await proxy.close();
    }
  });

  it('CRC mismatch twice, then verified on the third attempt', async () => {
    const proxy = await startFlipProxy({ targetPort: server.port, flipOffset: 70_000, corruptSequences: 2 });
    try {
      const dir = await mkdtemp(path.join(tmp, 'flip2-'));
      await writeFile(path.join(dir, 'retry.bin'), randomBytes(300_000));
      const run = await runCli(
        ['--server', `127.0.0.1:${proxy.port}`, '--name', 'flipper2', 'retry.bin'],
        dir,
      );
      expect(run.code).toBe(0);
      expect(proxy.sequences).toBe(3);
      expect(run.stderr).toContain('attempt 3 of 4');
      expect(run.stdout).toContain('verified');
      const row = fileRows(server.dataDir).find((r) => r.ClientName === 'flipper2');
      expect(row?.Verified).toBe(1);
      expect(await sha256File(path.join(server.dataDir, 'files', row!.PathName))).toBe(
        await sha256File(path.join(dir, 'retry.bin')),
      );
    } finally {
      await proxy.close();
    }
  });

  it('1607 mid-file (a server limit) stops the upload early; later files are reported not sent', async () => {
    const limited = await startServer(path.join(tmp, 'limited-data'), ['--max-file-size', '1M']);
    try {
      const dir = await mkdtemp(path.join(tmp, 'limit-'));
      await writeFile(path.join(dir, 'big.bin'), randomBytes(3_000_000));
      await writeFile(path.join(dir, 'small.txt'), 'small');
      const run = await runCli(
        ['--server', `127.0.0.1:${limited.port}`, '--name', 'limited', 'big.bin', 'small.txt'],
        dir,
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toBe(
        'big.bin  3000000 bytes  CRC -  FAILED (server error)\nsmall.txt  5 bytes  CRC -  FAILED (not sent)\n',
      );
      expect(run.stderr).toMatch(/The server reported an error \(1607\)/);
      expect(fileRows(limited.dataDir)).toEqual([]);
    } finally {
      await limited.stop();
    }
  });

  it('--json: one JSON object per file, verified with its CRC and time, failures with their reason', async () => {
    const limited = await startServer(path.join(tmp, 'json-data'), ['--max-file-size', '1M']);
    try {
      const dir = await mkdtemp(path.join(tmp, 'json-'));
      await writeFile(path.join(dir, 'ok.txt'), 'fine');
      await writeFile(path.join(dir, 'big.bin'), randomBytes(3_000_000));
      await writeFile(path.join(dir, 'after.txt'), 'after');
      const run = await runCli(
        [
          '--server',
          `127.0.0.1:${limited.port}`,
          '--name',
          'jsonny',
          '--json',
          'ok.txt',
          'big.bin',
          'after.txt',
        ],
        dir,
      );
      expect(run.code).toBe(1);
      const lines = jsonLines(run.stdout);
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatchObject({
        name: 'ok.txt',
        path: path.join(dir, 'ok.txt'),
        size: 4,
        status: 'verified',
        crc: systemCksum(path.join(dir, 'ok.txt')),
      });
      expect(lines[0]!.seconds).toBeGreaterThan(0);
      expect(lines[1]).toMatchObject({
        name: 'big.bin',
        size: 3_000_000,
        status: 'failed',
        crc: null,
        reason: 'server error',
      });
      expect(lines[2]).toMatchObject({ name: 'after.txt', status: 'not-sent', reason: 'not sent' });
    } finally {
      await limited.stop();
    }
  });

  it('server unreachable: a clear sentence and exit 1', async () => {
    const dir = await mkdtemp(path.join(tmp, 'down-'));
    await writeFile(path.join(dir, 'f.txt'), 'f');
    // A port nothing listens on: a proxy we close at once.
    const proxy = await startFlipProxy({ targetPort: server.port });
    const port = proxy.port;
    await proxy.close();
    const run = await runCli(['--server', `127.0.0.1:${port}`, '--name', 'nobody', 'f.txt'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot reach the server at 127.0.0.1:${port}: the connection was refused`);
    // With --json every file still gets its object, with either protocol.
    await writeFile(path.join(dir, 'g.txt'), 'g');
    for (const protocol of ['3', 'auto']) {
      const json = await runCliProcess(
        [
          '--protocol',
          protocol,
          '--server',
          `127.0.0.1:${port}`,
          '--name',
          'nobody',
          '--json',
          'f.txt',
          'g.txt',
        ],
        dir,
      );
      expect(json.code).toBe(1);
      const lines = jsonLines(json.stdout);
      expect(lines).toMatchObject([
        { name: 'f.txt', status: 'not-sent', reason: 'unreachable', seconds: 0 },
        { name: 'g.txt', status: 'not-sent', reason: 'unreachable', seconds: 0 },
      ]);
    }
  });

  it('a port that is not the file server (HTTP, or anything else): a sentence, no stack, exit 1', async () => {
    const dir = await mkdtemp(path.join(tmp, 'not-server-'));
    await writeFile(path.join(dir, 'f.txt'), 'f');
    // What the bridge's or the web app's port answers to a TCP client's first bytes.
    const http = createServer((_req, res) => res.end('hello'));
    // An SSH server says its banner first and waits for ours.
    const other = net.createServer((s) => {
      s.on('error', () => {});
      s.write('SSH-2.0-OpenSSH_9.2\r\n');
    });
    await Promise.all([
      new Promise<void>((r) => http.listen(0, '127.0.0.1', r)),
      new Promise<void>((r) => other.listen(0, '127.0.0.1', r)),
    ]);
    const port = (s: net.Server) => (s.address() as net.AddressInfo).port;
    try {
      // The default protocol (auto: 4 first); protocol 3 says "not valid protocol v3" already.
      const viaHttp = await runCliProcess(
        ['--server', `127.0.0.1:${port(http)}`, '--name', 'n', 'f.txt'],
        dir,
      );
      expect(viaHttp.code).toBe(1);
      expect(viaHttp.stderr).toContain('The server answered in HTTP, not protocol 4');
      expect(viaHttp.stderr).toContain('--server ws://HOST:PORT/');
      const viaOther = await runCliProcess(
        ['--server', `127.0.0.1:${port(other)}`, '--name', 'n', 'f.txt'],
        dir,
      );
      expect(viaOther.code).toBe(1);
      expect(viaOther.stderr).toContain("The server's answer is not protocol 4");
      expect(viaOther.stderr).toContain('Is this the right server and port?');
      for (const run of [viaHttp, viaOther]) {
        expect(run.stderr).not.toContain('Unexpected error');
        expect(run.stderr).not.toMatch(/\n\s+at /);
      }
    } finally {
      http.close();
      other.close();
      http.closeAllConnections();
    }
  });

  it('a missing or unreadable file is reported before connecting (a usage error: exit 2)', async () => {
    const dir = await mkdtemp(path.join(tmp, 'nofile-'));
    // Port 1 would be unreachable: the message must be about the file, not the server.
    const run = await runCli(['--server', '127.0.0.1:1', '--name', 'n', 'missing.bin'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('missing.bin does not exist');
    expect(run.stderr).not.toContain('Cannot reach');
    if (process.getuid?.() !== 0) {
      await writeFile(path.join(dir, 'secret.bin'), 'x');
      await chmod(path.join(dir, 'secret.bin'), 0);
      const run2 = await runCli(['--server', '127.0.0.1:1', '--name', 'n', 'secret.bin'], dir);
      expect(run2.stderr).toContain('permission denied');
    }
  });

  it('Ctrl-C while waiting for the server closes the connection and exits 130', async () => {
    const dir = await mkdtemp(path.join(tmp, 'sigint-'));
    await writeFile(path.join(dir, 'f.txt'), 'f');
    // A server that takes the request and never answers.
    let child: ChildProcess | undefined;
    let closedByClient = false;
    const silent = net.createServer((s) => {
      s.once('data', () => child?.kill('SIGINT'));
      s.on('close', () => {
        closedByClient = true;
      });
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const run = await runCli(
        ['--server', `127.0.0.1:${port}`, '--name', 'impatient', 'f.txt'],
        dir,
        (c) => {
          child = c;
        },
      );
      expect(run.code).toBe(130);
      expect(run.stderr).toContain('Interrupted.');
      expect(closedByClient).toBe(true);
    } finally {
      await new Promise((r) => silent.close(r));
    }
  });

  it('two files with the same name are refused before connecting (exit 2)', async () => {
    const dir = await mkdtemp(path.join(tmp, 'twins-'));
    await mkdir(path.join(dir, 'a'));
    await mkdir(path.join(dir, 'b'));
    await writeFile(path.join(dir, 'a', 'same.txt'), 'a');
    await writeFile(path.join(dir, 'b', 'same.txt'), 'b');
    const run = await runCli(['--server', '127.0.0.1:1', '--name', 'n', 'a/same.txt', 'b/same.txt'], dir);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('have the same name "same.txt"');
  });

  it('--help prints the usage and exits 0; an unknown option exits 2', async () => {
    const help = await runCli(['--help'], tmp);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: npm run client --');
    const bad = await runCli(['--bogus'], tmp);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('Unknown option --bogus');
  });
});
