/**
 * Protocol v4 holds v3's access rules, against the real server process (docs/SECURITY.md):
 * in invite mode a relayed client needs a valid invite (Error 4 without, 5 for a forged,
 * expired, revoked or full one), from the relay's TLV 0xE0 first or else ClientAuth's field;
 * a direct client is judged as in v3 (--tcp-allow) but a bad invite it offers is refused too;
 * the key is bound to its invite; quotas at UploadStart (Error 6, nothing stored, the
 * connection usable) with kept partial bytes counted until aborted; Welcome's room; the
 * registration and reconnect buckets (Error 8); connection caps (Alert 9).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseCode } from '../../lib/protocol';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodePreamble } from '../../lib/protocol/v4/frames';
import {
  hex,
  MiB,
  type ServerProcess,
  serverLog,
  sha256,
  startServerProcess,
  tcpConn,
  until,
} from '../support/hostile';
import { forgedToken, makeInvite, ownerCommand } from '../support/invite-helpers';
import { tempDir } from '../support/server-helpers';
import { queryDb } from '../support/server-state';
import { fileSource, newIdentity, nodeSha256, openV4, refusedCode } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

let srv: ServerProcess;
let work: { path: string; remove(): void };

function makeFile(name: string, size: number): { path: string; bytes: Buffer } {
  const bytes = randomBytes(size);
  const path = join(work.path, name);
  writeFileSync(path, bytes);
  return { path, bytes };
}

const inviteOf = (key: Uint8Array) =>
  queryDb<{ InviteID: string | null }>(
    srv.data,
    'SELECT c.InviteID FROM clients c JOIN v4_keys k ON k.ID = c.ID WHERE k.Key = ?',
    Buffer.from(key),
  )[0]?.InviteID;
const filesNamed = (name: string) =>
  queryDb<{ Sha256: string | null; Cksum: number | null }>(
    srv.data,
    'SELECT * FROM files WHERE FileName = ?',
    name,
  );
const partials = () => readdirSync(join(srv.data, 'partial')).filter((n) => n.endsWith('.data'));

beforeAll(async () => {
  work = tempDir('sft-v4-access-');
  srv = await startServerProcess(['--access', 'invite']);
});

afterAll(async () => {
  await srv?.dispose();
  work?.remove();
});

describe('v4 invites (invite mode)', () => {
  it('relayed without an invite: Error 4; a direct client (--tcp-allow) registers as in v3, unbound', async () => {
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { relayed: {} }))).toBe(
      V4ErrorCode.InviteRequired,
    );
    const me = await newIdentity();
    const s = await openV4(srv.port, me);
    expect(s.registered).toBe(true);
    await s.close();
    expect(inviteOf(me.publicRaw)).toBeNull();
    await until(() => serverLog(srv).some((l) => l.reason === 'invite-required'), 'the refusal line');
    const line = serverLog(srv).find((l) => l.reason === 'invite-required')!;
    expect(line.msg).toMatch(/was refused at protocol 4 \(Error 4, invite-required\)/);
  });

  it('a forged invite: Error 5, in the TLV or in ClientAuth, direct or relayed', async () => {
    const forged = await forgedToken();
    for (const o of [{ relayed: { tlv: forged } }, { relayed: {}, invite: forged }, { invite: forged }]) {
      expect({ o, code: await refusedCode(openV4(srv.port, await newIdentity(), o)) }).toEqual({
        o,
        code: V4ErrorCode.InviteInvalid,
      });
    }
  });

  it('a valid invite binds the key to it (TLV before ClientAuth); its last slot taken, the next key gets 5', async () => {
    const inv = makeInvite(srv.data, ['--max-clients', '2']);
    const forged = await forgedToken();
    // The relay's TLV wins over ClientAuth's field, either way round.
    const a = await newIdentity();
    const sa = await openV4(srv.port, a, { relayed: { tlv: inv.token }, invite: forged });
    expect(sa.registered).toBe(true);
    await sa.close();
    expect(inviteOf(a.publicRaw)).toBe(inv.id);
    expect(
      await refusedCode(
        openV4(srv.port, await newIdentity(), { relayed: { tlv: forged }, invite: inv.token }),
      ),
    ).toBe(V4ErrorCode.InviteInvalid);
    // Over direct TCP the invite travels in ClientAuth.
    const b = await newIdentity();
    await (await openV4(srv.port, b, { invite: inv.token })).close();
    expect(inviteOf(b.publicRaw)).toBe(inv.id);
    // Full: no third key; the two bound keys still connect.
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { relayed: { tlv: inv.token } }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
    await (await openV4(srv.port, a, { relayed: {} })).close();
    await until(() => serverLog(srv).some((l) => l.reason === 'invite-full'), 'an invite-full line');
    // The token is never logged, its ID is.
    expect(srv.output()).not.toContain(inv.token.split('.')[2]);
    expect(serverLog(srv).some((l) => l.event === 'v4-authenticated' && l.inviteId === inv.id)).toBe(true);
  });

  it('an expired invite: Error 5 for a new key', async () => {
    const inv = makeInvite(srv.data, ['--expires', '1s']);
    await new Promise((r) => setTimeout(r, 2100));
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { relayed: { tlv: inv.token } }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { invite: inv.token }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
  });

  it('a revoked invite: its bound key is refused at its next connection (5), a new key too; stored files stay', async () => {
    const inv = makeInvite(srv.data, ['--max-clients', '5']);
    const me = await newIdentity();
    const f = makeFile('before-revoke.bin', 5000);
    const s = await openV4(srv.port, me, { relayed: { tlv: inv.token } });
    await s.upload(fileSource(f.path), { hash: nodeSha256 });
    ownerCommand(srv.data, ['invite', 'revoke', inv.id]);
    // The open connection's next file is refused (fatal: the invite no longer holds).
    expect(await refusedCode(s.upload(fileSource(f.path), { hash: nodeSha256 }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
    await s.close();
    expect(await refusedCode(openV4(srv.port, me, { relayed: {} }))).toBe(V4ErrorCode.InviteInvalid);
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { relayed: { tlv: inv.token } }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
    expect(await refusedCode(openV4(srv.port, await newIdentity(), { invite: inv.token }))).toBe(
      V4ErrorCode.InviteInvalid,
    );
    expect(filesNamed('before-revoke.bin')).toHaveLength(1);
    await until(() => serverLog(srv).some((l) => l.reason === 'invite-revoked'), 'an invite-revoked line');
  });
});

describe('v4 quotas', () => {
  it('over the invite at UploadStart: Error 6, nothing stored, the connection usable; Welcome says the room', async () => {
    const inv = makeInvite(srv.data, ['--max-bytes', '3M', '--max-clients', '2']);
    const me = await newIdentity();
    const s = await openV4(srv.port, me, { relayed: { tlv: inv.token } });
    expect(s.maxFileSize).toBe(3 * MiB);
    const big = makeFile('too-big.bin', 4 * MiB);
    expect(await refusedCode(s.upload(fileSource(big.path), { hash: nodeSha256 }))).toBe(
      V4ErrorCode.OverQuota,
    );
    expect(filesNamed('too-big.bin')).toEqual([]);
    expect(partials()).toEqual([]);
    const small = makeFile('fits.bin', MiB);
    const r = await s.upload(fileSource(small.path), { hash: nodeSha256 });
    expect(hex(r.sha256)).toBe(sha256(small.bytes));
    await s.close();
    // Recorded with its SHA-256 (no CRC); the room is what is left, for the invite's other key too.
    expect(filesNamed('fits.bin')).toEqual([
      expect.objectContaining({ Sha256: sha256(small.bytes), Cksum: null }),
    ]);
    const again = await openV4(srv.port, me, { relayed: {} });
    expect(again.maxFileSize).toBe(2 * MiB);
    await again.close();
    const other = await openV4(srv.port, await newIdentity(), { invite: inv.token });
    expect(other.maxFileSize).toBe(2 * MiB);
    await other.close();
    const line = serverLog(srv).find((l) => l.event === 'v4-upload-refused' && l.file === 'too-big.bin')!;
    expect(line).toMatchObject({ code: 6, reason: 'over-invite-bytes' });
    const done = serverLog(srv).find((l) => l.event === 'v4-upload-done' && l.file === 'fits.bin')!;
    expect(done.msg).toBe(
      `tester sent fits.bin, 1.0 MiB, verified (protocol 4, SHA-256 ${sha256(small.bytes).slice(0, 8)}…)`,
    );
  });

  it('bytes of a kept partial upload count: a second upload is over until the first is abandoned; a resume reserves only the rest', async () => {
    const inv = makeInvite(srv.data, ['--max-bytes', '10M']);
    const me = await newIdentity();
    const first = makeFile('half.bin', 8 * MiB);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const proxy = await startV4Proxy({ targetPort: srv.port, cutAfter: 6 * MiB });
    const cut = await openV4(proxy.port, me, { invite: inv.token });
    await expect(cut.upload(fileSource(first.path), { hash: nodeSha256, ...ids })).rejects.toBeTruthy();
    await proxy.close();
    await until(
      () => serverLog(srv).some((l) => l.event === 'v4-upload-kept' && l.file === 'half.bin'),
      'kept',
    );
    await until(() => partials().length === 1, 'the kept upload');
    // Once detached, every record written is durable: the data file is what is kept.
    await new Promise((r) => setTimeout(r, 300));
    const kept = statSync(join(srv.data, 'partial', partials()[0]!)).size;
    expect(kept).toBeGreaterThanOrEqual(4 * MiB);

    const s = await openV4(srv.port, me, { relayed: {} });
    expect(s.maxFileSize).toBe(10 * MiB - kept);
    const second = makeFile('second.bin', 7 * MiB);
    expect(await refusedCode(s.upload(fileSource(second.path), { hash: nodeSha256 }))).toBe(
      V4ErrorCode.OverQuota,
    );
    // Resuming the first needs only what is missing: it fits, as 8 MiB would not beside 4+ kept.
    const r = await s.upload(fileSource(first.path), { hash: nodeSha256, ...ids, resume: true });
    expect(r.resumedFrom).toBe(kept / 262_144);
    expect(hex(r.sha256)).toBe(sha256(first.bytes));
    await s.close();

    // Another kept upload, then abandoned: its bytes no longer count.
    const inv2 = makeInvite(srv.data, ['--max-bytes', '10M']);
    const you = await newIdentity();
    const ids2 = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const proxy2 = await startV4Proxy({ targetPort: srv.port, cutAfter: 6 * MiB });
    const cut2 = await openV4(proxy2.port, you, { invite: inv2.token });
    await expect(cut2.upload(fileSource(first.path), { hash: nodeSha256, ...ids2 })).rejects.toBeTruthy();
    await proxy2.close();
    await until(() => partials().length === 1, 'one kept upload');
    const t = await openV4(srv.port, you);
    expect(await refusedCode(t.upload(fileSource(second.path), { hash: nodeSha256 }))).toBe(
      V4ErrorCode.OverQuota,
    );
    await t.abandon(ids2.uploadId);
    expect(partials()).toEqual([]);
    const ok = await t.upload(fileSource(second.path), { hash: nodeSha256 });
    expect(ok.size).toBe(7 * MiB);
    await t.close();
  });

  it('--max-file-size-v4: Error 7, the connection usable', async () => {
    const own = await startServerProcess(['--max-file-size-v4', '100K']);
    try {
      const s = await openV4(own.port, await newIdentity());
      expect(s.maxFileSize).toBe(100 * 1024);
      const big = makeFile('large.bin', 200_000);
      expect(await refusedCode(s.upload(fileSource(big.path), { hash: nodeSha256 }))).toBe(
        V4ErrorCode.FileTooLarge,
      );
      const small = makeFile('ok.bin', 1000);
      expect((await s.upload(fileSource(small.path), { hash: nodeSha256 })).size).toBe(1000);
      await s.close();
    } finally {
      await own.dispose();
    }
  });
});

describe('v4 limits', () => {
  it('new keys count as registrations per source (Error 8); known keys as reconnects; another source is not slowed', async () => {
    const own = await startServerProcess(['--register-per-minute', '3', '--reconnect-per-minute', '2']);
    try {
      const from = (source: string) => ({ relayed: { source } });
      const keys = await Promise.all([0, 1, 2, 3].map(() => newIdentity()));
      for (const k of keys.slice(0, 3)) await (await openV4(own.port, k, from('198.51.100.1'))).close();
      expect(await refusedCode(openV4(own.port, keys[3]!, from('198.51.100.1')))).toBe(
        V4ErrorCode.RateLimited,
      );
      await (await openV4(own.port, keys[3]!, from('198.51.100.2'))).close();
      // Reconnects of a known key: two a minute from one source.
      for (let i = 0; i < 2; i++) await (await openV4(own.port, keys[0]!, from('198.51.100.3'))).close();
      expect(await refusedCode(openV4(own.port, keys[0]!, from('198.51.100.3')))).toBe(
        V4ErrorCode.RateLimited,
      );
      expect(serverLog(own).filter((l) => l.reason === 'rate-limited')).toHaveLength(2);
    } finally {
      await own.dispose();
    }
  });

  it('--tcp-allow holds for v4: a direct v4 client from elsewhere is closed unanswered; relayed from anywhere is served', async () => {
    const own = await startServerProcess(['--tcp-allow', '127.0.0.1/32']);
    try {
      const got = await new Promise<Buffer>((resolve, reject) => {
        const bytes: Buffer[] = [];
        const sock = connect({ host: '127.0.0.1', port: own.port, localAddress: '127.0.0.2' }, () => {
          sock.write(encodePreamble());
        });
        sock.on('data', (b) => bytes.push(b));
        sock.on('error', () => {});
        sock.on('close', () => resolve(Buffer.concat(bytes)));
        setTimeout(() => reject(new Error('not closed')), 5000).unref();
      });
      expect(got.length).toBe(0);
      await until(() => serverLog(own).some((l) => l.reason === 'tcp-allow'), 'a tcp-allow line');
      await (await openV4(own.port, await newIdentity(), { relayed: { source: '198.51.100.77' } })).close();
    } finally {
      await own.dispose();
    }
  });

  it('past the connection cap a v4 client reads Alert 9 (BUSY); a v3 client still reads 1607', async () => {
    const own = await startServerProcess(['--max-per-source', '1']);
    try {
      const held = await openV4(own.port, await newIdentity());
      expect(await refusedCode(openV4(own.port, await newIdentity()))).toBe(V4ErrorCode.Busy);
      const v3 = await tcpConn(own.port);
      const header = new Uint8Array(23);
      header.set([3, 0x01, 0x04], 16); // version 3, 1025, no payload
      await v3.raw.send(header);
      expect((await v3.next())?.code).toBe(ResponseCode.ServerError);
      v3.close();
      await held.close();
    } finally {
      await own.dispose();
    }
  });
});
