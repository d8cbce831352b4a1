/**
 * The CLI against a hostile protocol v4 server (or a man in the middle before the key is
 * pinned, or one injecting clear Alerts after): what the server says must not drive the
 * person's terminal, and a server that never answers, or drips its answer a byte at a time,
 * must not hold the CLI forever. The CLI runs in-process (cli/app.ts runCli) against
 * test/support/hostile-v4-server.ts on 127.0.0.1.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/app';
import { FrameType, MessageType, V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodeFrame, encodeFrameHeader } from '../../lib/protocol/v4/frames';
import { encodeAlert } from '../../lib/protocol/v4/messages';
import { type HostileV4Server, startHostileV4Server } from '../support/hostile-v4-server';

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
