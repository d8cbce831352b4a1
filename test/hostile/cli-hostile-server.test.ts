/**
 * The CLI against a hostile protocol v4 server (or a man in the middle before the key is
 * pinned, or one injecting clear Alerts after): what the server says must not drive the
 * person's terminal, and a server that never answers, or drips its answer a byte at a time,
 * must not hold the CLI forever. A man in the middle must not make it speak protocol 3 (which
 * authenticates no server) to a server known to speak 4, bytes it did not ask for must not
 * fill its memory, a protocol 3 peer's 1606 must not cost it its identity, and a server that
 * went quiet must not cost every file its tries. The CLI runs in-process (cli/app.ts runCli)
 * against test/support/hostile-v4-server.ts, or a protocol 3 server of the test's
 * (test/support/fake-server.ts over TCP), on 127.0.0.1.
 */
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/app';
import { FrameType, MessageType, V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodeFrame, encodeFrameHeader } from '../../lib/protocol/v4/frames';
import { encodeAlert } from '../../lib/protocol/v4/messages';
import { FakeServer } from '../support/fake-server';
import { type HostileV4Server, startHostileV4Server } from '../support/hostile-v4-server';
import { forgedToken } from '../support/invite-helpers';

/** ESC ] 0 ; title BEL (sets the window title), C1 CSI 2 J (clears the screen), RLO. */
const HOSTILE_REASON = '\u001b]0;owned\u0007\u009b2J\u202eevil\r\nError: fake line';
/** Any of the characters lib/protocol/name-chars.ts calls unsafe, raw. */
const RAW_UNSAFE =
  /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;

let server: HostileV4Server | null = null;
const dirs: string[] = [];

afterEach(async () => {
  await server?.close();
  server = null;
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function folder(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sft-cli-hostile-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'a.txt'), 'hello\n');
  return dir;
}

async function run(args: string[], dir: string) {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, 'a.txt'], {
    cwd: dir,
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
}

/** Each line the CLI printed, with its own line ends: none may carry a raw unsafe character. */
function expectNoRawUnsafe(text: string): void {
  for (const line of text.split('\n')) expect(line, JSON.stringify(line)).not.toMatch(RAW_UNSAFE);
}

describe('server-supplied text in the CLI output', () => {
  it("a sealed Error's reason is shown escaped, on stderr and in the file's line", async () => {
    server = await startHostileV4Server({
      async script(conn) {
        const start = await conn.nextMessage();
        if (start === null) return;
        await conn.send({
          type: MessageType.Error,
          code: V4ErrorCode.StorageFailed,
          fatal: true,
          reason: HOSTILE_REASON,
        });
        conn.socket.end();
      },
    });
    const dir = await folder();
    for (const json of [false, true]) {
      const r = await run(
        [
          '--server',
          `127.0.0.1:${server.port}`,
          '--name',
          'alice',
          '--protocol',
          '4',
          ...(json ? ['--json'] : []),
        ],
        dir,
      );
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('owned');
      expectNoRawUnsafe(r.stderr);
      expectNoRawUnsafe(r.stdout);
    }
  });

  it('a clear Alert (which anyone on the path can inject) is shown escaped', async () => {
    server = await startHostileV4Server({
      beforeHandshake(socket) {
        socket.once('data', () => {
          socket.end(
            encodeFrame(
              FrameType.Alert,
              encodeAlert({ code: V4ErrorCode.Busy, fatal: true, reason: HOSTILE_REASON }),
            ),
          );
        });
      },
    });
    const dir = await folder();
    const r = await run(['--server', `127.0.0.1:${server.port}`, '--name', 'alice', '--protocol', '4'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('owned');
    expectNoRawUnsafe(r.stderr);
    expectNoRawUnsafe(r.stdout);
  }, 30_000);
});

describe('a server that keeps the CLI waiting (--timeout)', () => {
  const args = (port: number, ...more: string[]) => [
    '--server',
    `127.0.0.1:${port}`,
    '--name',
    'alice',
    '--timeout',
    '2',
    ...more,
  ];

  it('one that accepts the connection and never answers: cut, said in a sentence, no fallback to protocol 3', async () => {
    server = await startHostileV4Server({ beforeHandshake() {} });
    const dir = await folder();
    const r = await run(args(server.port), dir);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`The server at 127.0.0.1:${server.port} kept us waiting 2 s`);
    // Auto would have fallen back to protocol 3 on a second connection had it read a close.
    expect(server.connections).toBe(1);
  }, 30_000);

  it('protocol 3: one that never answers the registration is cut too', async () => {
    server = await startHostileV4Server({ beforeHandshake() {} });
    const dir = await folder();
    const r = await run(args(server.port, '--protocol', '3'), dir);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('kept us waiting 2 s');
  }, 30_000);

  it('one that drips its answer a byte at a time (each byte within the timeout) is cut as one that sends nothing', async () => {
    server = await startHostileV4Server({
      beforeHandshake(socket) {
        socket.once('data', () => {
          // A ServerHello frame header for a 34-byte body, then one byte of it every 300 ms.
          socket.write(encodeFrameHeader(FrameType.ServerHello, 34));
          let sent = 0;
          const drip = setInterval(() => {
            if (socket.destroyed || ++sent > 33) clearInterval(drip);
            else socket.write(Buffer.from([0]));
          }, 300);
          socket.on('close', () => clearInterval(drip));
        });
      },
    });
    const dir = await folder();
    const r = await run(args(server.port, '--protocol', '4'), dir);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('kept us waiting 2 s');
  }, 30_000);

  it('one that stops reading mid-upload: each try is cut, the CLI gives up after its tries and says so', async () => {
    server = await startHostileV4Server({
      async script(conn) {
        const start = await conn.nextMessage();
        if (start?.type !== MessageType.UploadStart) return;
        await conn.send({ type: MessageType.UploadReady, uploadId: start.uploadId, nextRecord: 0 });
        conn.socket.pause();
      },
    });
    const dir = await folder();
    // More than the socket buffers and the transport's 2 MiB high-water mark hold.
    await writeFile(path.join(dir, 'a.txt'), Buffer.alloc(48 * 1024 * 1024, 7));
    const r = await run(args(server.port, '--protocol', '4'), dir);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('kept us waiting 2 s');
    expect(r.stdout).toContain('FAILED');
    expect(server.connections).toBe(4);
  }, 60_000);
});

describe('a clear Alert after the handshake (no key: anyone on the path can write one)', () => {
  it('is taken as a lost connection, not as the server\'s word: an injected "upload expired" does not make the CLI forget its resume', async () => {
    const starts: { resume: boolean; uploadId: string }[] = [];
    server = await startHostileV4Server({
      async script(conn) {
        const start = await conn.nextMessage();
        if (start?.type !== MessageType.UploadStart) return;
        starts.push({ resume: start.resume, uploadId: Buffer.from(start.uploadId).toString('hex') });
        if (starts.length === 1) {
          // The first try is accepted, then cut after its record: the CLI keeps it to resume.
          await conn.send({ type: MessageType.UploadReady, uploadId: start.uploadId, nextRecord: 0 });
          await conn.nextFrame();
          conn.socket.destroy();
          return;
        }
        // Every resume gets an Alert 10 in the clear, as a man in the middle would write it.
        conn.socket.end(
          encodeFrame(
            FrameType.Alert,
            encodeAlert({ code: V4ErrorCode.UploadExpired, fatal: true, reason: 'injected' }),
          ),
        );
      },
    });
    const dir = await folder();
    const r = await run(['--server', `127.0.0.1:${server.port}`, '--name', 'alice', '--protocol', '4'], dir);
    expect(r.code, r.stderr).toBe(1);
    expect(starts.length).toBeGreaterThan(1);
    // Each later try resumes the same upload; none starts it anew under another ID.
    for (const s of starts.slice(1)) expect(s).toEqual({ resume: true, uploadId: starts[0]!.uploadId });
    expect(r.stderr).not.toContain('from the beginning');
    // And the next run still has it to resume.
    const kept = JSON.parse(await readFile(path.join(dir, 'v4-uploads.json'), 'utf8')) as {
      uploadId: string;
    }[];
    expect(kept.map((k) => k.uploadId)).toEqual([starts[0]!.uploadId]);
  }, 60_000);
});

/**
 * A man in the middle at the address the CLI sends to: it relays to `upstream` (a protocol 4
 * server, so the CLI pins its key) until `downgrade` is set, then closes each protocol 4
 * hello unanswered (or answers it as a version 3 server would) and serves what comes next
 * as a version 3 server of its own (test/support/fake-server.ts), which sees the plaintext.
 */
async function startDowngrader(upstream: number) {
  const fake = new FakeServer();
  const state = { downgrade: null as null | 'close' | 'v3-answer' | 'alert-5', hellos: 0 };
  const sockets = new Set<net.Socket>();
  const mitm = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (state.downgrade === null) {
      const up = net.connect(upstream, '127.0.0.1');
      up.on('error', () => socket.destroy());
      socket.on('close', () => up.destroy());
      socket.pipe(up).pipe(socket);
      return;
    }
    socket.once('data', (first) => {
      // Byte 16 of a protocol 4 preamble is 4; a version 3 request header has 3 there.
      if (first[16] === 4) {
        state.hellos++;
        if (state.downgrade === 'close') socket.destroy();
        // "Invite not valid" in the clear: the server seals its own (it has the key by then).
        else if (state.downgrade === 'alert-5')
          socket.end(
            encodeFrame(
              FrameType.Alert,
              encodeAlert({ code: V4ErrorCode.InviteInvalid, fatal: true, reason: 'invite-full' }),
            ),
          );
        // 1607 with no payload, as a version 3 server answers a version 4 header.
        else socket.end(Buffer.from([3, 0x47, 0x06, 0, 0, 0, 0]));
        return;
      }
      const conn = fake.accept(
        (b) => socket.write(b),
        () => socket.end(),
      );
      conn.push(first);
      socket.on('data', (d) => conn.push(d));
      socket.on('close', () => conn.end());
    });
  });
  await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', r));
  return {
    port: (mitm.address() as net.AddressInfo).port,
    state,
    fake,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => mitm.close(r));
    },
  };
}

describe('a man in the middle against a server whose protocol 4 key is pinned (downgrade)', () => {
  for (const how of ['close', 'v3-answer'] as const) {
    it(`${how === 'close' ? 'a close before any answer' : 'a version 3 answer (1607)'} does not make auto send with protocol 3, which checks no key`, async () => {
      // Each connection is welcomed, then closed: enough for the first run to pin the key.
      server = await startHostileV4Server({ script: (conn) => void conn.socket.destroy() });
      const mitm = await startDowngrader(server.port);
      try {
        const dir = await folder();
        const args = ['--server', `127.0.0.1:${mitm.port}`, '--name', 'alice', '--timeout', '5'];
        const first = await run([...args, '--protocol', '4'], dir);
        expect(first.stderr).toContain('Pinned the key');
        const pinned = await readFile(path.join(dir, 'known_servers'), 'utf8');
        expect(pinned).toContain(`127.0.0.1:${mitm.port} SHA256:`);

        mitm.state.downgrade = how;
        const r = await run(args, dir);
        expect(mitm.state.hellos).toBe(1);
        // Before: "Using protocol 3 on a new connection", a registration to the man in the
        // middle (a new RSA key, wrapped AES key), and the file in the clear on his side.
        expect([...mitm.fake.files.values()].map((f) => Buffer.from(f.bytes).toString())).toEqual([]);
        expect(mitm.fake.connections).toBe(0);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stderr).not.toContain('Using protocol 3');
        expect(r.stderr).toContain('Not trying protocol 3');
        expect(r.stderr).toContain('--protocol 3');
      } finally {
        await mitm.close();
      }
    }, 60_000);
  }
});

describe('a clear Alert 5 (invite not valid) in the handshake, under an invite with a protocol 3 identity', () => {
  it("does not make auto send with protocol 3: only the server's sealed Error 5 says the slot is held", async () => {
    server = await startHostileV4Server({});
    const mitm = await startDowngrader(server.port);
    try {
      const dir = await folder();
      const args = ['--server', `127.0.0.1:${mitm.port}`, '--name', 'alice', '--timeout', '5'];
      mitm.state.downgrade = 'alert-5';
      // A protocol 3 identity from an earlier run (me.info, priv.key).
      const v3 = await run([...args, '--protocol', '3'], dir);
      expect(v3.code, v3.stderr).toBe(0);
      mitm.fake.files.clear();
      const connections = mitm.fake.connections;
      // That identity was registered with the real server; the man in the middle does not
      // know it, answers its reconnect with 1606, and the CLI registers a new key with him.
      mitm.fake.clients.clear();
      mitm.fake.knobs.rejectReconnect = true;
      const r = await run([...args, '--invite', await forgedToken()], dir);
      expect(mitm.state.hellos).toBe(1);
      // Before: "This invite's client slot is held by your protocol 3 identity ... sending with
      // protocol 3", registered anew with the man in the middle, and the file his in the clear.
      expect([...mitm.fake.files.values()].map((f) => Buffer.from(f.bytes).toString())).toEqual([]);
      expect(mitm.fake.connections).toBe(connections);
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).not.toContain('sending with protocol 3');
    } finally {
      await mitm.close();
    }
  }, 60_000);
});

describe('bytes the CLI did not ask for, sent while it reads nothing', () => {
  it('fill no more than a few MiB of its memory: the TCP transport stops reading, as the WebSocket one does', async () => {
    const MiB = 1024 * 1024;
    const FLOOD = 512 * MiB;
    const flood = { written: 0, stalled: false };
    server = await startHostileV4Server({
      async script(conn) {
        const start = await conn.nextMessage();
        if (start?.type !== MessageType.UploadStart || !start.resume) return;
        // "Stored already": the CLI reads the whole file to compare its SHA-256 and reads
        // nothing from the connection meanwhile (anyone on the path can add the flood).
        await conn.send({
          type: MessageType.UploadDone,
          uploadId: start.uploadId,
          size: Number(start.size),
          sha256: new Uint8Array(32),
          storedName: start.name,
        });
        // Once the CLI has taken the answer (in its own read, not the flood's first).
        await new Promise((r) => setTimeout(r, 200));
        const junk = Buffer.alloc(MiB, 0x41);
        while (flood.written < FLOOD && !conn.socket.destroyed) {
          flood.written += MiB;
          if (conn.socket.write(junk)) continue;
          const drained = await Promise.race([
            new Promise<boolean>((r) => conn.socket.once('drain', () => r(true))),
            new Promise<boolean>((r) => setTimeout(() => r(false), 1_000)),
          ]);
          if (!drained) {
            flood.stalled = true;
            break;
          }
        }
        conn.socket.destroy();
      },
    });
    const dir = await folder();
    // 2 GiB of holes: seconds of hashing, no disk.
    await truncate(path.join(dir, 'a.txt'), 2 * 1024 * MiB);
    const { mtimeMs, size } = await stat(path.join(dir, 'a.txt'));
    await writeFile(
      path.join(dir, 'v4-uploads.json'),
      JSON.stringify([
        {
          server: `127.0.0.1:${server.port}`,
          path: path.join(dir, 'a.txt'),
          size,
          mtimeMs,
          uploadId: '11'.repeat(16),
          fileKey: '22'.repeat(32),
        },
      ]),
    );
    const r = await run(['--server', `127.0.0.1:${server.port}`, '--name', 'alice', '--protocol', '4'], dir);
    expect(r.stderr).toContain('Resuming');
    expect(r.code, r.stderr).toBe(1);
    // Before: the whole 512 MiB was taken and held until the hash was done.
    expect(flood.stalled).toBe(true);
    expect(flood.written).toBeLessThan(32 * MiB);
  }, 120_000);
});

/** A protocol 3 server of the test's on 127.0.0.1 (test/support/fake-server.ts over TCP). */
async function startV3(fake: FakeServer) {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const conn = fake.accept(
      (b) => socket.write(b),
      () => socket.end(),
    );
    socket.on('data', (d) => conn.push(d));
    socket.on('close', () => conn.end());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return {
    port: (srv.address() as net.AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => srv.close(r));
    },
  };
}

describe('protocol 3: a 1606 from a server that is not the one the identity was registered with', () => {
  it('does not lose that identity: the one replaced is kept beside the new one (the first replaced stays)', async () => {
    const real = await startV3(new FakeServer());
    // Any protocol 3 server answers 1606 to an ID it does not know: a man in the middle
    // (protocol 3 authenticates no server), or a wrong --server.
    const otherFake = new FakeServer({ rejectReconnect: true });
    const other = await startV3(otherFake);
    try {
      const dir = await folder();
      const at = (port: number) => ['--server', `127.0.0.1:${port}`, '--name', 'alice', '--protocol', '3'];
      expect((await run(at(real.port), dir)).code).toBe(0);
      const meInfo = await readFile(path.join(dir, 'me.info'), 'utf8');
      const privKey = await readFile(path.join(dir, 'priv.key'), 'utf8');
      for (let i = 0; i < 2; i++) {
        // A server that knows no one each time: its 1606, then the name free.
        otherFake.clients.clear();
        const r = await run(at(other.port), dir);
        expect(r.stderr).toContain('(1606)');
        expect(await readFile(path.join(dir, 'me.info'), 'utf8')).not.toBe(meInfo);
        // Before: me.info and priv.key rewritten, the identity the real server knows gone for
        // good (its name taken there by a key no longer anywhere).
        expect(await readFile(path.join(dir, 'me.info.replaced'), 'utf8')).toBe(meInfo);
        expect(await readFile(path.join(dir, 'priv.key.replaced'), 'utf8')).toBe(privKey);
        // Said when kept; the second run keeps the first pair as it was.
        expect(r.stderr.includes('me.info.replaced')).toBe(i === 0);
      }
    } finally {
      await real.close();
      await other.close();
    }
  }, 60_000);
});

describe('a server that stops answering after the first handshake, with several files to send', () => {
  it('costs the tries of one file, not of every file: the rest are not sent, each with its line', async () => {
    const starts: number[] = [];
    // Every connection is welcomed; no UploadStart is ever answered.
    server = await startHostileV4Server({
      async script(conn) {
        if ((await conn.nextMessage())?.type === MessageType.UploadStart) starts.push(server!.connections);
      },
    });
    const dir = await folder();
    for (const n of ['b.txt', 'c.txt', 'd.txt']) await writeFile(path.join(dir, n), `${n}\n`);
    let stdout = '';
    let stderr = '';
    const code = await runCli(
      [
        '--server',
        `127.0.0.1:${server.port}`,
        '--name',
        'alice',
        '--protocol',
        '4',
        '--timeout',
        '1',
        '--json',
      ].concat(['a.txt', 'b.txt', 'c.txt', 'd.txt']),
      {
        cwd: dir,
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
      },
    );
    expect(code, stderr).toBe(1);
    // Before: 4 tries for each of the 4 files, 16 connections (a minute here; 8 minutes a
    // file at the default --timeout of 120 s, for every file of the run).
    expect(server.connections).toBe(4);
    expect(starts.length).toBe(4);
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; status: string });
    expect(lines.map((l) => [l.name, l.status])).toEqual([
      ['a.txt', 'failed'],
      ['b.txt', 'not-sent'],
      ['c.txt', 'not-sent'],
      ['d.txt', 'not-sent'],
    ]);
  }, 120_000);
});
