/**
 * Protocol misuse against the real server process (issue 7). Each case runs on a fresh
 * connection and ends with the same checks: the answer the protocol calls for, nothing
 * stored that should not be, a new client still registers and uploads, and the files two
 * other clients stored before are byte-identical with unchanged rows.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, encodeSendFilePrefix, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type Baseline,
  type Client,
  expectCode,
  expectConfined,
  expectHealthy,
  expectIntact,
  type FrameConn,
  fileFrames,
  fileRows,
  hex,
  KiB,
  NO_PEER_LIMITS,
  randomName,
  reconnect,
  register,
  rsaKeys,
  type ServerProcess,
  seedBaseline,
  sha256,
  startServerProcess,
  tcpConn,
  until,
  unwrapKey,
  upload,
} from '../support/hostile';

let srv: ServerProcess;
let base: Baseline;
const open: FrameConn[] = [];

async function conn(): Promise<FrameConn> {
  const c = await tcpConn(srv.port);
  open.push(c);
  return c;
}

beforeAll(async () => {
  srv = await startServerProcess(NO_PEER_LIMITS);
  const c = await tcpConn(srv.port);
  base = await seedBaseline(c, srv.data);
  c.close();
});

afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await expectHealthy(() => tcpConn(srv.port), srv.data);
  expectIntact(srv.data, base.state);
  expectConfined(srv.data);
});

afterAll(async () => {
  await srv?.dispose();
});

function storedNames(c: Client): string[] {
  return fileRows(srv.data)
    .filter((r) => hex(r.ID) === hex(c.clientId))
    .map((r) => r.FileName)
    .sort();
}

const crc = (code: 1029 | 1030 | 1031, c: Pick<Client, 'clientId'>, fileName: string) =>
  encodeRequest({ code, clientId: c.clientId, fileName });

describe('protocol misuse', () => {
  it('1028 before any key exchange: 1607, nothing stored, the connection stays usable', async () => {
    const c = await conn();
    const r1 = await expectCode(
      c,
      encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(16), name: randomName('early') }),
      ResponseCode.Registered,
    );
    if (r1.code !== ResponseCode.Registered) return;
    // Registered but no 1026 yet: no AES key on this connection.
    const fake = { clientId: r1.clientId, aesKey: randomBytes(32) };
    for (const f of fileFrames(fake, 'early.bin', randomBytes(5000), 1024)) await c.sendFrame(f);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    expect(fileRows(srv.data).filter((r) => hex(r.ID) === hex(r1.clientId))).toEqual([]);
    await expectCode(
      c,
      encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(16), name: randomName('after') }),
      ResponseCode.Registered,
    );
  });

  it.each([
    ['packets out of order', (f: Uint8Array[]) => [f[1]!, f[0]!, ...f.slice(2)]],
    ['a packet repeated', (f: Uint8Array[]) => [f[0]!, f[0]!, ...f.slice(1)]],
    ['a packet missing', (f: Uint8Array[]) => [f[0]!, ...f.slice(2)]],
    [
      'totals changing mid-file',
      (f: Uint8Array[]) => {
        // Copies with buffers of their own: the frames may be views into Buffer's shared pool.
        const g = f.map((x) => new Uint8Array(x));
        new DataView(g[2]!.buffer).setUint16(33, f.length + 1, true);
        return g;
      },
    ],
    [
      'sizes changing mid-file',
      (f: Uint8Array[]) => {
        // Copies with buffers of their own: the frames may be views into Buffer's shared pool.
        const g = f.map((x) => new Uint8Array(x));
        const v = new DataView(g[1]!.buffer);
        v.setUint32(23, v.getUint32(23, true) + 16, true);
        v.setUint32(27, v.getUint32(27, true) + 16, true);
        return g;
      },
    ],
  ] as const)('%s: one 1607, nothing stored, the next upload works', async (_label, tamper) => {
    const c = await conn();
    const me = await register(c, randomName('seq'));
    const frames = tamper(fileFrames(me, 'broken.bin', randomBytes(6000), 1024));
    for (const f of frames) await c.sendFrame(f);
    // A 1027 as a marker: everything answered before it belongs to the broken file. (A packet
    // numbered 1 after a refused one starts a new attempt, so a swap can earn two 1607s.)
    await c.sendFrame(encodeRequest({ code: RequestCode.Reconnect, clientId: me.clientId, name: me.name }));
    const before: number[] = [];
    let r = await c.next();
    while (r && r.code !== ResponseCode.Reconnected) {
      before.push(r.code);
      r = await c.next();
    }
    expect(before.length).toBeGreaterThan(0);
    expect(new Set(before)).toEqual(new Set([ResponseCode.ServerError]));
    if (r?.code !== ResponseCode.Reconnected) return;
    const again = { ...me, aesKey: unwrapKey(me.keys, r.encryptedKey) };
    const good = randomBytes(3000);
    expect((await upload(c, again, 'good.bin', good))?.code).toBe(ResponseCode.FileReceived);
    expect(storedNames(me)).toEqual(['good.bin']);
  });

  it("a client ID that changes to another client's in the middle of a file: 1607, nothing stored for either", async () => {
    const c = await conn();
    const me = await register(c, randomName('switch'));
    const frames = fileFrames(me, 'report.pdf', randomBytes(4000), 1024).map((f) => f.slice());
    frames[2]!.set(base.alice.clientId, 0);
    for (const f of frames) await c.sendFrame(f);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    expect(storedNames(me)).toEqual([]);
  });

  it('1029, 1030, 1031 for a file never sent: 1607, nothing, 1607; the connection stays usable', async () => {
    const c = await conn();
    const me = await register(c, randomName('ghost'));
    await expectCode(c, crc(1029, me, 'never.bin'), ResponseCode.ServerError);
    await c.sendFrame(crc(1030, me, 'never.bin'));
    await expectCode(c, crc(1031, me, 'never.bin'), ResponseCode.ServerError);
    // The name of a file another client has: still "never sent" for this one.
    await expectCode(c, crc(1029, me, 'report.pdf'), ResponseCode.ServerError);
    await expectCode(c, crc(1031, me, 'report.pdf'), ResponseCode.ServerError);
    expect((await upload(c, me, 'real.bin', randomBytes(100)))?.code).toBe(ResponseCode.FileReceived);
  });

  it('a client ID that is not registered: 1026 -> 1607, 1027 -> 1606, 1028 -> 1607, 1029/1031 -> 1607', async () => {
    const c = await conn();
    const stranger = randomBytes(16);
    const name = randomName('stranger');
    await expectCode(
      c,
      encodeRequest({ code: RequestCode.SendPublicKey, clientId: stranger, name, publicKey: rsaKeys().spki }),
      ResponseCode.ServerError,
    );
    await expectCode(
      c,
      encodeRequest({ code: RequestCode.Reconnect, clientId: stranger, name }),
      ResponseCode.ReconnectRejected,
    );
    for (const f of fileFrames({ clientId: stranger, aesKey: randomBytes(32) }, 'x.bin', randomBytes(100)))
      await c.sendFrame(f);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    await expectCode(c, crc(1029, { clientId: stranger }, 'x.bin'), ResponseCode.ServerError);
    await expectCode(c, crc(1031, { clientId: stranger }, 'x.bin'), ResponseCode.ServerError);
    expect(fileRows(srv.data).some((r) => hex(r.ID) === hex(stranger))).toBe(false);
    // Once keyed as someone else, a 1028 under the stranger's ID is still refused.
    const me = await register(c, randomName('keyed'));
    for (const f of fileFrames({ clientId: stranger, aesKey: me.aesKey }, 'y.bin', randomBytes(100)))
      await c.sendFrame(f);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
  });

  it("1026 for another client's name, 1025 with a taken name, 1027 with a name and the wrong ID: refused, keys unchanged", async () => {
    const c = await conn();
    const me = await register(c, randomName('mallory'));
    // Own ID, alice's name: would replace alice's public key.
    await expectCode(
      c,
      encodeRequest({
        code: RequestCode.SendPublicKey,
        clientId: me.clientId,
        name: base.alice.name,
        publicKey: rsaKeys().spki,
      }),
      ResponseCode.ServerError,
    );
    // alice's ID, own name.
    await expectCode(
      c,
      encodeRequest({
        code: RequestCode.SendPublicKey,
        clientId: base.alice.clientId,
        name: me.name,
        publicKey: rsaKeys().spki,
      }),
      ResponseCode.ServerError,
    );
    await expectCode(
      c,
      encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(16), name: base.bob.name }),
      ResponseCode.RegisterFailed,
    );
    await expectCode(
      c,
      encodeRequest({ code: RequestCode.Reconnect, clientId: me.clientId, name: base.bob.name }),
      ResponseCode.ReconnectRejected,
    );
    // After a refused 1027 the connection must not hold a key for bob: a 1028 as bob fails.
    for (const f of fileFrames(
      { clientId: base.bob.clientId, aesKey: me.aesKey },
      'data.bin',
      randomBytes(64),
    ))
      await c.sendFrame(f);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
  });

  it('eight connections of one client upload the same name at once: the stored bytes are one whole upload, and only its 1029 verifies', async () => {
    const first = await conn();
    const me = await register(first, randomName('twins'));
    const conns = [first, ...(await Promise.all(Array.from({ length: 7 }, () => conn())))];
    const keyed = await Promise.all(conns.map((c, i) => (i === 0 ? me : reconnect(c, me))));
    const datas = conns.map((_, i) => randomBytes(256 * KiB + i * 1000));
    // Interleave: every connection sends its packets while the others do.
    const answers = await Promise.all(
      conns.map((c, i) => upload(c, keyed[i]!, 'same.bin', datas[i]!, 8 * KiB)),
    );
    for (const a of answers) expect(a?.code).toBe(ResponseCode.FileReceived);
    const verdicts = await Promise.all(
      conns.map(async (c) => {
        await c.sendFrame(crc(1029, me, 'same.bin'));
        return (await c.next())?.code;
      }),
    );
    const winners = verdicts.flatMap((v, i) => (v === ResponseCode.Thanks ? [i] : []));
    expect(winners).toHaveLength(1);
    for (const v of verdicts) expect([ResponseCode.Thanks, ResponseCode.ServerError]).toContain(v);
    const rows = fileRows(srv.data).filter((r) => hex(r.ID) === hex(me.clientId));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.Verified).toBe(1);
    const stored = readFileSync(join(srv.data, 'files', rows[0]!.PathName));
    expect(sha256(stored)).toBe(sha256(datas[winners[0]!]!));
  });

  it('a 1028 with a valid header whose content never matches its declared size, then the connection closes: nothing stored, no temp file left', async () => {
    const c = await conn();
    const me = await register(c, randomName('short'));
    const prefix = encodeSendFilePrefix(
      {
        clientId: me.clientId,
        contentSize: 64 * KiB,
        origSize: 64 * KiB - 1,
        packetNumber: 1,
        totalPackets: 1,
        fileName: 'cut.bin',
      },
      64 * KiB,
    );
    await c.sendFrame(prefix);
    await c.sendFrame(randomBytes(10 * KiB));
    c.close();
    await until(() => readdirSync(join(srv.data, 'tmp')).length === 0, 'the temp file to go');
    expect(storedNames(me)).toEqual([]);
  });
});

describe('spoofed CRC answers (client IDs travel in the clear: they are no credential)', () => {
  it("1031 and 1030 carrying another client's ID do not delete that client's files", async () => {
    const c = await conn();
    await expectCode(c, crc(1031, base.alice, 'report.pdf'), ResponseCode.ServerError);
    await c.sendFrame(crc(1030, base.bob, 'data.bin'));
    // 1030 has no answer; the next request shows the connection is still in step.
    await expectCode(c, crc(1029, { clientId: new Uint8Array(16) }, 'x'), ResponseCode.ServerError);
    expectIntact(srv.data, base.state);
  });

  it("1029 carrying another client's ID does not mark that client's unconfirmed file verified", async () => {
    const c = await conn();
    await expectCode(c, crc(1029, base.alice, 'notes.txt'), ResponseCode.ServerError);
    const row = fileRows(srv.data).find(
      (r) => hex(r.ID) === hex(base.alice.clientId) && r.FileName === 'notes.txt',
    );
    expect(row?.Verified).toBe(0);
  });

  it('1029 on a later connection of the same client does not verify an upload that connection never received', async () => {
    const c1 = await conn();
    const carol = await register(c1, randomName('carol'));
    expect((await upload(c1, carol, 'draft.txt', randomBytes(100)))?.code).toBe(ResponseCode.FileReceived);
    c1.close();
    const c2 = await conn();
    await reconnect(c2, carol);
    await expectCode(c2, crc(1029, carol, 'draft.txt'), ResponseCode.ServerError);
    const row = fileRows(srv.data).find(
      (r) => hex(r.ID) === hex(carol.clientId) && r.FileName === 'draft.txt',
    );
    expect(row?.Verified).toBe(0);
  });
});
