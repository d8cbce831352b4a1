/**
 * Issue 15 at the server, against real processes on 127.0.0.1: invites made with the owner's
 * command while the server runs, registrations relayed as the bridge relays them (PROXY v2
 * from loopback, the token in TLV 0xE0), forged, expired and revoked tokens, a TLV from an
 * untrusted address, and each refusal's `reason` in the log.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type Client,
  expectCode,
  type FrameConn,
  fileFrames,
  KiB,
  NO_PEER_LIMITS,
  openDb,
  randomName,
  reconnect,
  register,
  type ServerProcess,
  serverLog,
  sleep,
  startServerProcess,
  tcpConn,
  until,
  upload,
} from '../support/hostile';
import { forgedToken, makeInvite, ownerCommand, relayedConn, relayHeader } from '../support/invite-helpers';
import { runPart } from '../support/processes';

const conns: FrameConn[] = [];
const track = <T extends FrameConn>(c: T): T => {
  conns.push(c);
  return c;
};
afterAll(() => {
  for (const c of conns) c.close();
});

/** A 1025 and its answer. */
async function register1025(conn: FrameConn, name = randomName('r')) {
  await conn.sendFrame(encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }));
  return conn.next();
}

/** `files --data DIR` (JSON lines when piped). */
const listFiles = (data: string) =>
  runPart('server', ['files', '--data', data])
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** The log lines of `srv` with this `reason`. */
const reasons = (srv: ServerProcess, reason: string) => serverLog(srv).filter((l) => l.reason === reason);

/** Stored bytes per the database: what the quotas must bound. */
function storedBytes(data: string, inviteId?: string): number {
  const db = openDb(data);
  try {
    const sql = inviteId
      ? 'SELECT coalesce(sum(f.Size), 0) AS n FROM files f JOIN clients c ON c.ID = f.ID WHERE c.InviteID = ?'
      : 'SELECT coalesce(sum(Size), 0) AS n FROM files';
    return (db.prepare(sql).get(...(inviteId ? [inviteId] : [])) as { n: number }).n;
  } finally {
    db.close();
  }
}

/** A client registered through a relayed connection with the token, from 203.0.113.n. */
async function invited(
  srv: ServerProcess,
  token: string,
  n: number,
): Promise<{ conn: FrameConn; me: Client }> {
  const conn = track(await relayedConn(srv.port, { token, source: `203.0.113.${n}` }));
  return { conn, me: await register(conn, randomName('q')) };
}

describe('invite mode: the lifecycle of an invite at the server', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess(['--access', 'invite', ...NO_PEER_LIMITS]);
  });
  afterAll(() => srv?.dispose());

  it('an invite made while the server runs registers one relayed client, which uploads; a revoke stops its next file at once', async () => {
    expect(srv.spawned.event.access).toBe('invite');
    const inv = makeInvite(srv.data, ['--label', 'Dana', '--max-bytes', '1M']);
    const conn = track(await relayedConn(srv.port, { token: inv.token }));
    const me = await register(conn, randomName('dana'));
    expect((await upload(conn, me, 'a.bin', randomBytes(10 * KiB)))?.code).toBe(ResponseCode.FileReceived);

    const [listed] = ownerCommand(srv.data, ['invite', 'list']);
    expect(listed).toMatchObject({
      id: inv.id,
      label: 'Dana',
      status: 'active',
      clients: 1,
      files: 1,
      bytes: 10 * KiB,
    });
    const clients = ownerCommand(srv.data, ['clients', 'list']);
    expect(clients.find((c) => c.name === me.name)).toMatchObject({
      invite: inv.id,
      files: 1,
      bytes: 10 * KiB,
    });

    // The one slot is taken.
    const second = track(await relayedConn(srv.port, { token: inv.token, source: '203.0.113.8' }));
    expect((await register1025(second))?.code).toBe(ResponseCode.RegisterFailed);
    await until(() => reasons(srv, 'invite-full').length === 1, 'an invite-full line');

    // Revoked in another process while this connection stays open: its next file gets 1607.
    const [revoked] = ownerCommand(srv.data, ['invite', 'revoke', inv.id]);
    expect(revoked).toMatchObject({ id: inv.id, status: 'revoked' });
    expect((await upload(conn, me, 'b.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'invite-revoked').length === 1, 'an invite-revoked line');
    const line = reasons(srv, 'invite-revoked')[0]!;
    expect(line).toMatchObject({
      code: RequestCode.SendFile,
      result: ResponseCode.ServerError,
      inviteId: inv.id,
    });
    // The token itself is in no log line.
    expect(srv.output()).not.toContain(inv.token.split('.')[2]!);
    // 1027 of the bound client: 1607 (its identity stays valid: not 1606).
    const again = track(await tcpConn(srv.port));
    await expectCode(
      again,
      encodeRequest({ code: RequestCode.Reconnect, clientId: me.clientId, name: me.name }),
      ResponseCode.ServerError,
    );
    // Nor does a 1026 sending its key again, which would be a 1027 by another name.
    await expectCode(
      again,
      encodeRequest({
        code: RequestCode.SendPublicKey,
        clientId: me.clientId,
        name: me.name,
        publicKey: me.keys.spki,
      }),
      ResponseCode.ServerError,
    );
    // A new registration with the revoked link: 1601. Stored files stay.
    const late = track(await relayedConn(srv.port, { token: inv.token, source: '203.0.113.9' }));
    expect((await register1025(late))?.code).toBe(ResponseCode.RegisterFailed);
    await until(() => reasons(srv, 'invite-revoked').length >= 4, 'the 1027, 1026 and 1025 refusals');
    expect(storedBytes(srv.data, inv.id)).toBe(10 * KiB);
    expect(ownerCommand(srv.data, ['invite', 'list'])[0]).toMatchObject({ status: 'revoked', files: 1 });
  }, 60_000);

  it('in invite mode a relayed 1025 needs a token; direct clients from --tcp-allow (loopback) register as before', async () => {
    const bare = track(await relayedConn(srv.port));
    expect((await register1025(bare))?.code).toBe(ResponseCode.RegisterFailed);
    await until(() => reasons(srv, 'invite-required').length === 1, 'an invite-required line');
    const direct = track(await tcpConn(srv.port));
    const old = await register(direct, randomName('direct'));
    expect((await upload(direct, old, 'old.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
  });

  it('forged, malformed and expired tokens in the TLV are refused with their reason; a client of an expired invite can no longer upload', async () => {
    const forged = track(await relayedConn(srv.port, { token: await forgedToken() }));
    expect((await register1025(forged))?.code).toBe(ResponseCode.RegisterFailed);
    const garbage = track(await relayedConn(srv.port, { token: 'sfi1.not-a-token' }));
    expect((await register1025(garbage))?.code).toBe(ResponseCode.RegisterFailed);
    await until(() => reasons(srv, 'invite-forged').length === 1, 'an invite-forged line');
    await until(() => reasons(srv, 'invite-malformed').length === 1, 'an invite-malformed line');

    const inv = makeInvite(srv.data, ['--expires', '3s', '--max-clients', '2']);
    const t0 = Date.now();
    const conn = track(await relayedConn(srv.port, { token: inv.token }));
    const me = await register(conn, randomName('brief'));
    expect((await upload(conn, me, 'in-time.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    await sleep(Math.max(0, 3500 - (Date.now() - t0)));
    expect((await upload(conn, me, 'too-late.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);
    const late = track(await relayedConn(srv.port, { token: inv.token, source: '203.0.113.10' }));
    expect((await register1025(late))?.code).toBe(ResponseCode.RegisterFailed);
    await until(() => reasons(srv, 'invite-expired').length === 2, 'two invite-expired lines');
  }, 30_000);
});

describe('a TLV from an address that is not a trusted proxy', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess([
      '--access',
      'invite',
      '--trusted-proxy',
      '127.0.0.9/32',
      ...NO_PEER_LIMITS,
    ]);
  });
  afterAll(() => srv?.dispose());

  it('is never read: the header is a framing error (1607, closed), nothing is registered', async () => {
    const inv = makeInvite(srv.data);
    const c = track(await tcpConn(srv.port, '127.0.0.1'));
    await c.raw.send(relayHeader(srv.port, { token: inv.token }));
    await c.sendFrame(
      encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: 'sneaky' }),
    );
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    await c.raw.closedPromise;
    expect(ownerCommand(srv.data, ['invite', 'list'])[0]).toMatchObject({ clients: 0 });
    expect(ownerCommand(srv.data, ['clients', 'list'])).toEqual([]);
  });
});

describe('quotas', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess([
      ...['--client-max-bytes', '100K', '--client-max-files', '3', '--max-total-bytes', '400K'],
      ...NO_PEER_LIMITS,
    ]);
  });
  afterAll(() => srv?.dispose());

  it('per invite: bytes (a replaced file counts its new size minus the old) and files; past them 1607 with the reason', async () => {
    const inv = makeInvite(srv.data, ['--max-bytes', '90K', '--max-files', '2']);
    const { conn, me } = await invited(srv, inv.token, 1);
    expect((await upload(conn, me, 'a', randomBytes(50 * KiB)))?.code).toBe(ResponseCode.FileReceived);
    expect((await upload(conn, me, 'b', randomBytes(50 * KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'over-invite-bytes').length === 1, 'an over-invite-bytes line');
    // 50K -> 85K: 35K more, within 90K.
    expect((await upload(conn, me, 'a', randomBytes(85 * KiB)))?.code).toBe(ResponseCode.FileReceived);
    expect((await upload(conn, me, 'b', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    expect((await upload(conn, me, 'c', randomBytes(1)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'over-invite-files').length === 1, 'an over-invite-files line');
    expect(storedBytes(srv.data, inv.id)).toBe(86 * KiB);
  });

  it('per client (--client-max-bytes, --client-max-files), for unbound clients too', async () => {
    const conn = track(await tcpConn(srv.port));
    const me = await register(conn, randomName('solo'));
    expect((await upload(conn, me, 'a', randomBytes(60 * KiB)))?.code).toBe(ResponseCode.FileReceived);
    expect((await upload(conn, me, 'b', randomBytes(60 * KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'over-client-bytes').length === 1, 'an over-client-bytes line');
    for (const name of ['b', 'c']) {
      expect((await upload(conn, me, name, randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    }
    expect((await upload(conn, me, 'd', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'over-client-files').length === 1, 'an over-client-files line');
  });

  it('in total (--max-total-bytes): 1607 once all files together would pass it', async () => {
    const before = storedBytes(srv.data);
    const room = 400 * KiB - before;
    const clients = await Promise.all(
      [0, 1, 2, 3, 4].map(async () => {
        const conn = track(await tcpConn(srv.port));
        return { conn, me: await register(conn, randomName('t')) };
      }),
    );
    let sent = 0;
    for (const { conn, me } of clients) {
      const r = await upload(conn, me, 'x', randomBytes(90 * KiB));
      if (sent + 90 * KiB <= room) {
        expect(r?.code).toBe(ResponseCode.FileReceived);
        sent += 90 * KiB;
      } else expect(r?.code).toBe(ResponseCode.ServerError);
    }
    await until(() => reasons(srv, 'over-total-bytes').length >= 1, 'an over-total-bytes line');
    expect(storedBytes(srv.data)).toBeLessThanOrEqual(400 * KiB);
  });
});

describe('binding in open mode, and reconnects of a bound client', () => {
  let srv: ServerProcess;
  beforeAll(async () => {
    srv = await startServerProcess(NO_PEER_LIMITS);
  });
  afterAll(() => srv?.dispose());

  it('a relayed 1025 with a token is bound and counted in open mode; without one it registers unbound', async () => {
    expect(srv.spawned.event.access).toBe('open');
    const inv = makeInvite(srv.data, ['--max-files', '1']);
    const conn = track(await relayedConn(srv.port, { token: inv.token }));
    const me = await register(conn, randomName('bound'));
    expect((await upload(conn, me, 'one', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    // A reconnect, direct this time, still counts against the invite.
    const back = track(await tcpConn(srv.port));
    const again = await reconnect(back, me);
    expect((await upload(back, again, 'two', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'over-invite-files').length === 1, 'an over-invite-files line');
    const free = track(await relayedConn(srv.port));
    await register(free, randomName('unbound'));
    expect(ownerCommand(srv.data, ['invite', 'list'])[0]).toMatchObject({ clients: 1, files: 1 });
  });

  it('concurrent uploads racing for the last bytes of an invite never overshoot it', async () => {
    const inv = makeInvite(srv.data, ['--max-bytes', '200K', '--max-clients', '8']);
    const racers = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((i) => invited(srv, inv.token, 20 + i)));
    const data = randomBytes(60 * KiB);
    const frames = racers.map(({ me }) => fileFrames(me, 'race.bin', data, 16 * KiB));
    // Every file's first packet before any file is complete: all would fit a check without reservations.
    await Promise.all(racers.map(({ conn }, i) => conn.sendFrame(frames[i]![0]!)));
    await sleep(500);
    await Promise.all(
      racers.map(async ({ conn }, i) => {
        for (const f of frames[i]!.slice(1)) await conn.sendFrame(f);
      }),
    );
    const answers = await Promise.all(racers.map(({ conn }) => conn.next()));
    const ok = answers.filter((a) => a?.code === ResponseCode.FileReceived).length;
    console.log(`8 uploads of 60 KiB racing for an invite of 200 KiB: ${ok} stored, ${8 - ok} refused`);
    expect(ok).toBe(3);
    expect(storedBytes(srv.data, inv.id)).toBe(3 * 60 * KiB);
  });

  it('clients remove: its files stay unless --files; a removed client still connected can no longer upload', async () => {
    const keep = track(await tcpConn(srv.port));
    const kept = await register(keep, randomName('keep'));
    expect((await upload(keep, kept, 'kept.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    const gone = track(await tcpConn(srv.port));
    const goner = await register(gone, randomName('gone'));
    expect((await upload(gone, goner, 'gone.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
    const path = (name: string) => String(listFiles(srv.data).find((f) => f.fileName === name)?.path ?? '');
    const keptPath = path('kept.bin');
    const gonePath = path('gone.bin');

    expect(ownerCommand(srv.data, ['clients', 'remove', kept.name])[0]).toMatchObject({
      files: 1,
      filesDeleted: false,
    });
    expect(existsSync(join(srv.data, keptPath))).toBe(true);
    expect(listFiles(srv.data).find((f) => f.fileName === 'kept.bin')).toMatchObject({
      client: '?',
    });
    expect((await upload(keep, kept, 'more.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);
    await until(() => reasons(srv, 'client-removed').length === 1, 'a client-removed line');

    expect(ownerCommand(srv.data, ['clients', 'remove', goner.name, '--files'])[0]).toMatchObject({
      files: 1,
      filesDeleted: true,
    });
    expect(existsSync(join(srv.data, gonePath))).toBe(false);
    expect(ownerCommand(srv.data, ['clients', 'list']).map((c) => c.name)).not.toContain(goner.name);
  }, 30_000);
});
