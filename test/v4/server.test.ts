/**
 * Protocol v4 against the real server process on its usual port (v3 served beside it):
 * byte-identical uploads with the server's SHA-256, tampering refused (nothing stored), a
 * man in the middle with another server key refused by the pin, a client key presented
 * without its private key refused, resume after a cut connection and after kill -9 of the
 * server, the resume refusals (unknown, mismatched, expired), and a relayed client served.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpTransport } from '../../cli/tcp-transport';
import { FrameType } from '../../lib/protocol/v4/constants';
import { encodeFrame, encodePreamble } from '../../lib/protocol/v4/frames';
import { encodeAlert } from '../../lib/protocol/v4/messages';
import { fingerprint, type KeyPairWithRaw } from '../../lib/v4/keys';
import { isTombstone } from '../../server/v4/partial-uploads';
import {
  fileRows,
  hex,
  register,
  type ServerProcess,
  sha256,
  startServerProcess,
  tcpConn,
} from '../support/hostile';
import { ROOT } from '../support/processes';
import { tempDir } from '../support/server-helpers';
import { connectV4, fileSource, memoryPin, newIdentity, nodeSha256, openV4 } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

const MiB = 1024 * 1024;
let srv: ServerProcess;
let work: { path: string; remove(): void };
let me: KeyPairWithRaw;

function makeFile(name: string, size: number): { path: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  const path = join(work.path, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

/** The stored bytes of the newest verified row named `name`. */
function stored(name: string): { bytes: Buffer; verified: number } | null {
  const row = fileRows(srv.data)
    .filter((r) => r.FileName === name)
    .at(-1);
  if (!row) return null;
  return { bytes: readFileSync(join(srv.data, 'files', row.PathName)), verified: row.Verified };
}

const partials = () => readdirSync(join(srv.data, 'partial')).filter((n) => !isTombstone(n));

beforeAll(async () => {
  work = tempDir('sft-v4-');
  srv = await startServerProcess(['--partial-ttl', '3']);
  me = await newIdentity();
});

afterAll(async () => {
  await srv?.dispose();
  work?.remove();
});

describe('protocol v4 server', () => {
  it('stores a file byte-identical and verified, reports its SHA-256; v3 is served on the same port', async () => {
    const f = makeFile('one.bin', 3 * MiB + 7);
    const s = await connectV4(srv.port, me);
    expect(s.registered).toBe(true);
    const r = await s.upload(fileSource(f.path), { hash: nodeSha256 });
    await s.close();
    expect(hex(r.sha256)).toBe(sha256(f.bytes));
    expect(r.storedName).toBe('one.bin');
    const got = stored('one.bin')!;
    expect(got.verified).toBe(1);
    expect(sha256(got.bytes)).toBe(sha256(f.bytes));
    // The same key again is the same client; an empty file works too.
    const again = await connectV4(srv.port, me);
    expect(again.registered).toBe(false);
    const e = makeFile('empty.bin', 0);
    const r2 = await again.upload(fileSource(e.path), { hash: nodeSha256 });
    expect(hex(r2.sha256)).toBe(sha256(Buffer.alloc(0)));
    await again.close();
    // v3 on the same port, unchanged.
    const c = await tcpConn(srv.port);
    await register(c, `v3-${randomBytes(3).toString('hex')}`);
    c.close();
  });

  it('prints the fingerprint at start and in `info`; the client sees the same key', async () => {
    const listening = srv.spawned.event.fingerprint as string;
    expect(listening).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    const info = execFileSync(
      join(ROOT, 'node_modules/.bin/tsx'),
      ['server/main.ts', 'info', '--data', srv.data],
      {
        cwd: ROOT,
        encoding: 'utf8',
      },
    );
    expect(info).toContain(listening);
    const s = await connectV4(srv.port, me);
    expect(await fingerprint(s.serverKey)).toBe(listening);
    await s.close();
  });

  it('a man in the middle with another server key is refused by the pinned key', async () => {
    const pin = memoryPin();
    (await connectV4(srv.port, me, pin.check)).close();
    const other = await startServerProcess();
    try {
      await expect(connectV4(other.port, me, pin.check)).rejects.toMatchObject({
        code: 'CLIENT_ERR_SERVER_KEY_CHANGED',
      });
      // And a relay to the real server is fine: the key is what is checked, not the address.
      const relay = await startV4Proxy({ targetPort: srv.port });
      await (await connectV4(relay.port, me, pin.check)).close();
      await relay.close();
    } finally {
      await other.dispose();
    }
  });

  it('a client key presented without its private key is refused (Alert 3)', async () => {
    const thief = await newIdentity();
    const stolen: KeyPairWithRaw = { ...thief, publicRaw: me.publicRaw };
    await expect(connectV4(srv.port, stolen)).rejects.toMatchObject({
      code: 'CLIENT_ERR_V4_REFUSED',
      details: { wireCode: 3 },
    });
  });

  it("a client's Alert ends the connection with no answer, logged as the client's, not a refusal", async () => {
    const sock = connect(srv.port, '127.0.0.1');
    const received: Buffer[] = [];
    sock.on('data', (b: Buffer) => received.push(b));
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const reason = 'the client gave up';
    sock.write(encodePreamble());
    sock.write(encodeFrame(FrameType.Alert, encodeAlert({ code: 65535, fatal: true, reason })));
    await closed;
    expect(Buffer.concat(received).length).toBe(0);
    const lines = srv.spawned.lines;
    await expect.poll(() => lines.some((l) => l.event === 'v4-peer-alert' && l.code === 65535)).toBe(true);
    expect(lines.some((l) => l.event === 'v4-refused' && l.reason === reason)).toBe(false);
  });

  it('a flipped byte in the handshake fails it; in a record, the upload is refused and nothing is stored', async () => {
    const hsProxy = await startV4Proxy({ targetPort: srv.port, flipAt: 40 });
    await expect(connectV4(hsProxy.port, me)).rejects.toMatchObject({ code: 'CLIENT_ERR_V4_HANDSHAKE' });
    await hsProxy.close();

    const f = makeFile('tampered.bin', 2 * MiB);
    const proxy = await startV4Proxy({ targetPort: srv.port, flipAt: 600_000 });
    const s = await connectV4(proxy.port, me);
    await expect(s.upload(fileSource(f.path), { hash: nodeSha256 })).rejects.toMatchObject({
      code: 'CLIENT_ERR_V4_REFUSED',
      details: { wireCode: 13 },
    });
    await s.close();
    await proxy.close();
    expect(stored('tampered.bin')).toBeNull();
    expect(partials()).toEqual([]);
  });

  it('resumes after a cut connection: byte-identical, from a durable record', async () => {
    const f = makeFile('cut.bin', 12 * MiB + 123);
    const proxy = await startV4Proxy({ targetPort: srv.port, cutAfter: 6 * MiB });
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s1 = await connectV4(proxy.port, me);
    await expect(s1.upload(fileSource(f.path), { hash: nodeSha256, ...ids })).rejects.toMatchObject({
      code: 'CLIENT_ERR_CONNECTION_CLOSED',
    });
    await proxy.close();
    const s2 = await connectV4(srv.port, me);
    // (The server may still be noticing the cut: the resume takes the upload over.)
    const r = await s2.upload(fileSource(f.path), { hash: nodeSha256, ...ids, resume: true });
    await s2.close();
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(r.resumedFrom).toBeLessThanOrEqual(24);
    expect(sha256(stored('cut.bin')!.bytes)).toBe(sha256(f.bytes));
    expect(partials()).toEqual([]);
  });

  it('refuses a resume of an unknown upload (11) and of a mismatched one (12), the connection staying usable', async () => {
    const f = makeFile('small.bin', 1000);
    const s = await connectV4(srv.port, me);
    const uploadId = new Uint8Array(randomBytes(16));
    await expect(
      s.upload(fileSource(f.path), { hash: nodeSha256, uploadId, resume: true }),
    ).rejects.toMatchObject({
      details: { wireCode: 11 },
    });
    const r = await s.upload(fileSource(f.path), { hash: nodeSha256 });
    expect(r.size).toBe(1000);
    await s.close();
  });

  it('a resume of an upload stored already is answered UploadDone, nothing sent again; not once the file was replaced', async () => {
    const f = makeFile('late.bin', 3 * 262_144 + 77);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s = await connectV4(srv.port, me);
    const first = await s.upload(fileSource(f.path), { hash: nodeSha256, ...ids });
    // As if the connection had broken before UploadDone was read: the client resumes.
    let sent = 0;
    const again = await s.upload(fileSource(f.path), {
      hash: nodeSha256,
      ...ids,
      resume: true,
      onStarted: () => {
        sent++;
      },
    });
    expect(again).toMatchObject({
      size: f.bytes.length,
      storedName: first.storedName,
      resumedFrom: 4,
      hashChecked: true,
    });
    expect(hex(again.sha256)).toBe(sha256(f.bytes));
    expect(sent).toBe(0);
    expect(srv.output()).toMatch(/"event":"v4-upload-done-again","file":"late.bin"/);
    // Another upload of the same name replaced the file: that upload is gone (11).
    await s.upload(fileSource(makeFile('late-2.bin', 10).path, 'late.bin'), { hash: nodeSha256 });
    await expect(
      s.upload(fileSource(f.path), { hash: nodeSha256, ...ids, resume: true }),
    ).rejects.toMatchObject({
      details: { wireCode: 11 },
    });
    await s.close();
    expect(partials()).toEqual([]);
  });

  it('resumes after kill -9 of the server: byte-identical', async () => {
    const f = makeFile('crash.bin', 40 * MiB + 5);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s1 = await connectV4(srv.port, me);
    let killed = false;
    await expect(
      s1.upload(fileSource(f.path), {
        hash: nodeSha256,
        ...ids,
        onProgress: (sent) => {
          if (!killed && sent > 20 * MiB) {
            killed = true;
            void srv.spawned.stop('SIGKILL');
          }
        },
      }),
    ).rejects.toMatchObject({
      code: expect.stringMatching(/CLIENT_ERR_CONNECTION_CLOSED|CLIENT_ERR_UNREACHABLE/),
    });
    await srv.restart();
    const s2 = await connectV4(srv.port, me);
    const r = await s2.upload(fileSource(f.path), { hash: nodeSha256, ...ids, resume: true });
    await s2.close();
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(sha256(stored('crash.bin')!.bytes)).toBe(sha256(f.bytes));
  });

  it('an unfinished upload expires after --partial-ttl (10)', async () => {
    const f = makeFile('late.bin', 3 * MiB);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const proxy = await startV4Proxy({ targetPort: srv.port, cutAfter: MiB });
    const s1 = await connectV4(proxy.port, me);
    await expect(s1.upload(fileSource(f.path), { hash: nodeSha256, ...ids })).rejects.toBeTruthy();
    await proxy.close();
    await new Promise((r) => setTimeout(r, 3500));
    const s2 = await connectV4(srv.port, me);
    await expect(
      s2.upload(fileSource(f.path), { hash: nodeSha256, ...ids, resume: true }),
    ).rejects.toMatchObject({
      details: { wireCode: 10 },
    });
    await s2.close();
  });

  it('a relayed v4 client (a PROXY header from a trusted proxy) is served, under the source the header names', async () => {
    const s = await openV4(srv.port, await newIdentity(), { relayed: { source: '203.0.113.9' } });
    expect(s.registered).toBe(true);
    await s.close();
  });

  it('answers a version 3 header with version byte 4 that is not the preamble with 1607, as before', async () => {
    const t = await TcpTransport.connect('127.0.0.1', srv.port);
    const bad = new Uint8Array(23);
    bad[16] = 4;
    await t.send([bad]);
    const got = await t.receive();
    expect(Array.from(got ?? [])).toEqual([3, 0x47, 6, 0, 0, 0, 0]);
    t.close();
  });
});
