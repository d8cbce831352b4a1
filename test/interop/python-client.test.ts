/**
 * Protocol 4 as written down, not as our code does it: `v4_client.py` beside this file is an
 * independent client written in Python from docs/PROTOCOL.md and docs/protocol-v4-vectors.json
 * alone (no code shared with the TypeScript implementation; its primitives come from
 * Python's `cryptography`). It checks itself against the vectors, then uploads to real
 * server processes on 127.0.0.1: empty, 1-byte, one-record, one-record-plus-1 and
 * multi-MiB files, resumes after connections cut by RST or FIN, runs again with the same
 * identity, refuses a changed server key and accepts the first one again. After each upload
 * the server's SHA-256 equals the client's and the stored bytes (found with the owner's
 * `files --json`) equal the original. This file is the one way to run it; it needs
 * /usr/bin/python3 with Debian's python3-cryptography (.ci/run installs it).
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_PEER_LIMITS, type ServerProcess, sha256, startServerProcess, tempDir } from '../support/hostile';
import { ROOT, runPartAsync, waitForEvent } from '../support/processes';
import { type SpawnedServer, spawnServer } from '../support/server-helpers';

const PYTHON = '/usr/bin/python3';
const CLIENT = join(ROOT, 'test/interop/v4_client.py');
const RECORD = 262_144;
/** 20 whole records and a part: 21 records, so cuts after 16 and 17 fall past a durable point. */
const BIG = 20 * RECORD + 12_345;
/** A client run that takes longer has hung (a whole run here takes a second or two). */
const RUN_TIMEOUT_MS = 30_000;

/** Why the client cannot run here, as a sentence for whoever reads the failure; undefined when it can. */
function pythonProblem(): string | undefined {
  try {
    execFileSync(PYTHON, ['-c', 'import cryptography'], { stdio: 'pipe', timeout: RUN_TIMEOUT_MS });
    return undefined;
  } catch (e) {
    const why = (e as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? String(e);
    return (
      `${PYTHON} with its cryptography module is needed to run the independent protocol-4 client ` +
      `(${why}): install python3-cryptography (apt-get install -y python3-cryptography; .ci/run does this for CI).`
    );
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The JSON lines of its stdout, parsed. */
  json: Record<string, unknown>[];
}

/** `v4_client.py args` (or another script of this folder), to its end (bounded); never rejects, the caller judges the exit code. */
function python(args: string[], script = CLIENT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      PYTHON,
      [script, ...args],
      { cwd: ROOT, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, maxBuffer: 16 << 20 },
      (err, stdout, stderr) => {
        const json = stdout
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as Record<string, unknown>);
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        const killed = err?.killed ? `\n(killed after ${RUN_TIMEOUT_MS / 1000} s)` : '';
        resolve({ code, stdout, stderr: stderr + killed, json });
      },
    );
  });
}

/** One connection's try, as the client reports it. */
interface Attempt {
  attempt: number;
  clientId: string;
  registered: boolean;
  pin: 'pinned-now' | 'pin-ok';
  /** The server's `next record` in UploadReady. */
  next: number;
  state: 'cut' | 'done';
}

/** `v4_client.py send`'s JSON line on success. */
interface Sent {
  ok: boolean;
  size: number;
  identityNew: boolean;
  clientId: string;
  serverFingerprint: string;
  storedName: string;
  storedSize: number;
  sha256: string;
  ownSha256: string;
  attempts: Attempt[];
}

/** A row of the owner's `files --json`. */
interface FileListing {
  client: string;
  clientId: string;
  fileName: string;
  size: number;
  sha256: string;
  verified: boolean;
  path: string;
}

let work: { path: string; remove(): void };
let identity: string;
let srvA: ServerProcess;
let srvB: SpawnedServer | undefined;
/** The test files by name: bytes and where they are. */
const files = new Map<string, { path: string; bytes: Buffer }>();

beforeAll(async () => {
  const problem = pythonProblem();
  if (problem) throw new Error(problem);
  work = tempDir('sft-interop-');
  identity = join(work.path, 'identity');
  for (const [name, size] of [
    ['empty', 0],
    ['one-byte', 1],
    ['one-record', RECORD],
    ['one-record-plus-1', RECORD + 1],
    ['big', BIG],
  ] as const) {
    const bytes = randomBytes(size);
    const path = join(work.path, name);
    writeFileSync(path, bytes);
    files.set(name, { path, bytes });
  }
  // The limits per source are not under test here (they have their own tests); about 40
  // handshakes from 127.0.0.1 in a few seconds would pass the reconnect limit.
  srvA = await startServerProcess(NO_PEER_LIMITS);
});

afterAll(async () => {
  await srvB?.stop('SIGKILL');
  await srvA?.dispose();
  work?.remove();
});

const fingerprintOf = (srv: SpawnedServer) => String(srv.event.fingerprint);

/** Sends test file `file` to server A as `storeAs`; expects success and returns the client's report. */
async function send(file: string, storeAs: string, extra: string[] = []): Promise<Sent> {
  const { path } = files.get(file)!;
  const run = await python([
    ...['send', '--server', `127.0.0.1:${srvA.port}`, '--dir', identity, '--name', 'pyclient'],
    ...['--file-name', storeAs, ...extra, path],
  ]);
  expect(run.code, `v4_client.py send exited ${run.code}:\n${run.stdout}\n${run.stderr}`).toBe(0);
  expect(run.json).toHaveLength(1);
  return run.json[0] as unknown as Sent;
}

/** The server stored exactly `file`'s bytes under `sent.storedName`, with the SHA-256 both sides computed. */
async function expectStored(sent: Sent, file: string, storeAs: string): Promise<void> {
  const { bytes } = files.get(file)!;
  expect(sent).toMatchObject({ ok: true, size: bytes.length, storedSize: bytes.length, storedName: storeAs });
  expect(sent.ownSha256).toBe(sha256(bytes));
  expect(sent.sha256).toBe(sent.ownSha256);
  expect(sent.serverFingerprint).toBe(fingerprintOf(srvA.spawned));
  const listing = await runPartAsync('server', ['files', '--json', '--data', srvA.data]);
  const rows = listing
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as FileListing)
    .filter((r) => r.fileName === storeAs);
  expect(rows).toHaveLength(1);
  const row = rows[0]!;
  expect(row).toMatchObject({
    clientId: sent.clientId,
    size: bytes.length,
    sha256: sent.sha256,
    verified: true,
  });
  expect(readFileSync(join(srvA.data, row.path)).equals(bytes), `stored ${row.path} differs`).toBe(true);
}

describe('the Python client against docs/protocol-v4-vectors.json', () => {
  it('reproduces the primitive, handshake, session, message and stream vectors', async () => {
    const run = await python(['vectors']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(/^FAIL/m);
    expect(run.json.at(-1)).toMatchObject({ ok: true, failed: [] });
    expect(run.json.at(-1)?.checks).toBeGreaterThan(40);
  });
});

describe('the Python client uploads to a server on 127.0.0.1, stored byte for byte', () => {
  let first: Sent;

  it('registers on its first run and stores a 0-byte file', async () => {
    first = await send('empty', 'empty.bin');
    expect(first.identityNew).toBe(true);
    expect(first.attempts).toMatchObject([{ registered: true, pin: 'pinned-now', next: 0, state: 'done' }]);
    await expectStored(first, 'empty', 'empty.bin');
  });

  it.each([
    ['1 byte', 'one-byte'],
    ['exactly one record (262,144 bytes)', 'one-record'],
    ['one record + 1 byte', 'one-record-plus-1'],
    [`${BIG.toLocaleString('en-US')} random bytes (21 records)`, 'big'],
  ])('stores %s', async (_label, file) => {
    const sent = await send(file, `${file}.bin`);
    expect(sent.attempts).toMatchObject([{ next: 0, state: 'done' }]);
    await expectStored(sent, file, `${file}.bin`);
  });

  it('runs again with the same identity folder: same client ID, not registered again, pin matches', async () => {
    const again = await send('one-byte', 'again.bin');
    expect(again.identityNew).toBe(false);
    expect(again.clientId).toBe(first.clientId);
    expect(again.attempts).toMatchObject([{ clientId: first.clientId, registered: false, pin: 'pin-ok' }]);
    await expectStored(again, 'one-byte', 'again.bin');
  });
});

describe('the Python client resumes after its connection is cut', () => {
  const cases = ['1', '5', '16', '17', '2,7,19'].flatMap((cuts) =>
    (['rst', 'fin'] as const).map((mode) => [`cut after ${cuts} records (${mode})`, cuts, mode] as const),
  );

  it.each(cases)('%s, resumed, stored whole', async (_label, cuts, mode) => {
    const storeAs = `big-cut-${cuts.replaceAll(',', '-')}-${mode}.bin`;
    const sent = await send('big', storeAs, ['--cut-after-records', cuts, '--cut-mode', mode]);
    const sentPerCut = cuts.split(',').map(Number);
    const { attempts } = sent;
    // At least one cut happened; a later cut may not (the rest of the file fits).
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.length).toBeLessThanOrEqual(sentPerCut.length + 1);
    expect(attempts[0]!.next).toBe(0);
    for (const [k, a] of attempts.entries()) {
      expect(a.state).toBe(k === attempts.length - 1 ? 'done' : 'cut');
      expect(a.clientId).toBe(sent.clientId);
      if (k === 0) continue;
      // The durable count never goes back and never passes what the client had sent.
      const before = attempts[k - 1]!;
      expect(a.next).toBeGreaterThanOrEqual(before.next);
      expect(a.next).toBeLessThanOrEqual(before.next + sentPerCut[k - 1]!);
    }
    await expectStored(sent, 'big', storeAs);
  });
});

describe("the Python client pins the server's key", () => {
  it('refuses a server with a new key at the same host:port, naming both fingerprints', async () => {
    const pinned = fingerprintOf(srvA.spawned);
    const port = srvA.port;
    await srvA.stop();
    srvB = await spawnServer(
      ['--port', String(port), '--data', join(work.path, 'data-b'), ...NO_PEER_LIMITS],
      work.path,
    );
    try {
      const offered = fingerprintOf(srvB);
      expect(offered).not.toBe(pinned);
      const run = await python([
        ...['send', '--server', `127.0.0.1:${port}`, '--dir', identity, '--name', 'pyclient'],
        files.get('one-byte')!.path,
      ]);
      expect(run.code).not.toBe(0);
      expect(run.json).toHaveLength(1);
      const refusal = run.json[0] as { ok: boolean; reason: string };
      expect(refusal.ok).toBe(false);
      expect(refusal.reason).toContain('SERVER KEY CHANGED');
      expect(refusal.reason).toContain(pinned);
      expect(refusal.reason).toContain(offered);
      // The client told the server why (Alert 3), and kept the old pin.
      expect(await waitForEvent(srvB, 'v4-peer-alert', 10_000)).toMatchObject({ code: 3 });
      const pins = readFileSync(join(identity, 'known_servers'), 'utf8');
      expect(pins).toContain(pinned);
      expect(pins).not.toContain(offered);
    } finally {
      await srvB.stop();
      srvB = undefined;
    }
  });

  it("accepts the first server's key again once that server is back", async () => {
    await srvA.restart();
    const sent = await send('one-byte', 'after-restart.bin');
    expect(sent.attempts).toMatchObject([{ registered: false, pin: 'pin-ok' }]);
    await expectStored(sent, 'one-byte', 'after-restart.bin');
  });
});

describe('the Python client resumes an upload whose UploadDone it lost', () => {
  it('the server answers the resume with UploadDone at once: nothing sent again, stored once', async () => {
    const sent = await send('big', 'lost-done.bin', ['--lose-done', '--cut-mode', 'fin']);
    const records = Math.ceil(BIG / RECORD);
    expect(sent.attempts.map((a) => [a.state, a.next])).toEqual([
      ['cut', 0],
      ['done', records],
    ]);
    await expectStored(sent, 'big', 'lost-done.bin');
  });
});

describe("the server's answers to what the specification says is refused or undone (probe_v4.py)", () => {
  /** Each probe's JSON line by its name. */
  let probes: Map<string, Record<string, unknown>>;
  type Answer = { kind?: string; code?: number; fatal?: boolean; type?: string; next?: number };
  const answer = (probe: string) => probes.get(probe)?.answer as Answer | undefined;
  const error = (code: number, fatal = false) => ({ kind: 'Error', code, fatal });

  beforeAll(async () => {
    const run = await python(
      ['--server', `127.0.0.1:${srvA.port}`, '--dir', join(work.path, 'prober')],
      join(ROOT, 'test/interop/probe_v4.py'),
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    probes = new Map(run.json.map((l) => [String(l.probe), l]));
  }, 90_000);

  it('resumes that do not match are refused without harm (11, 12), and an abort removes the upload it names', () => {
    expect(answer('resume-unknown-id')).toMatchObject(error(11));
    expect(answer('after-error-new-upload-same-conn')).toMatchObject({ type: '0x21', next: 0 });
    for (const p of [
      'existing-id-without-resume-flag',
      'resume-other-size',
      'resume-other-name',
      'resume-other-key',
    ])
      expect(answer(p), p).toMatchObject(error(12));
    expect(answer('resume-ok')).toMatchObject({ type: '0x21', next: 2 });
    expect(answer('abort-between-records')).toMatchObject({ type: '0x24' });
    expect(answer('resume-after-abort')).toMatchObject(error(11));
    // An abort naming an ID the client has no upload under: Error 11, the open upload stays.
    expect(probes.get('abort-other-id-while-open')?.answer).toMatch(/Error 11 UNKNOWN_UPLOAD/);
  });

  it('a record that does not verify is answered at once (13), even when nothing follows it', () => {
    expect(answer('damaged-record-1')).toMatchObject(error(13));
    expect(answer('new-upload-after-damage-done')).toMatchObject({ type: '0x22', size: 5 });
    expect(answer('resume-damaged-upload')).toMatchObject(error(11));
    // Record 1 sent first, then nothing: the server used to wait for the next Chunk.
    expect(answer('out-of-order-record')).toMatchObject(error(13));
    expect(answer('chunk-without-upload')).toMatchObject(error(1, true));
  });

  it('a file name breaking the rules is Error 15 and a size past 2^53 - 1 Error 7, neither fatal; a record size other than 262,144 is', () => {
    for (const p of ['slash', 'dotdot', 'control', 'backslash', 'dot'])
      expect(answer(`file-name-${p}`), p).toMatchObject(error(15));
    expect(answer('size-2^53')).toMatchObject(error(7));
    expect(answer('record-size-65536')).toMatchObject(error(1, true));
    // Names outside the ASCII allowlist are stored under another name, the SHA-256 the same.
    const unicode = probes.get('file-name-unicode')?.answer as { then?: { stored_name?: string } };
    expect(unicode.then?.stored_name).toBe('_t_ _.txt');
  });

  it('a resume while another connection has the upload open takes it over from what that one wrote; that one gets Error 18', () => {
    expect(answer('resume-while-open-elsewhere')).toMatchObject({ type: '0x21', next: 2 });
    expect(answer('first-connection-after-that')).toMatchObject(error(18));
  });

  it("two connections of one client cancelling each other's open uploads at once both get their answer (they waited for each other for good)", () => {
    const cross = probes.get('cross-abort') as { first: Answer[]; second: Answer[]; seconds: number };
    // Each gets its UploadAborted and, for its own upload the other cancelled, Error 18: in
    // either order, since which cancel the server takes first is a race.
    for (const got of [cross.first, cross.second]) {
      expect(got).toContainEqual(expect.objectContaining({ type: '0x24' }));
      expect(got).toContainEqual(expect.objectContaining(error(18)));
    }
  });

  it('a resume of an upload stored before its UploadDone was read gets UploadDone again; a bad signature gets an Alert', () => {
    expect(answer('resume-after-complete-upload')).toMatchObject({ type: '0x22', size: 3 * 262_144 + 10 });
    expect(probes.get('bad-client-signature')?.answer).toMatch(/Alert 3 HANDSHAKE_FAILED/);
  });
});
