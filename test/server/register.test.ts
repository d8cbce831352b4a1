/** 1025/1026/1027 against an in-process server over real sockets. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type InProcessServer,
  makeRsaKeys,
  RawClient,
  rawFrame,
  rawNameField,
  registerAndExchange,
  sendFile,
  startServer,
  unwrapKey,
} from '../support/server-helpers';

let srv: InProcessServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(() => srv.stop());

const register = (name: string) =>
  encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name });

describe('register (1025)', () => {
  it('answers 1600 with a 16-byte ID, then 1601 for the same name on another connection', async () => {
    const a = await RawClient.connect(srv.port);
    const r = await a.request(register('alice'));
    expect(r?.code).toBe(ResponseCode.Registered);
    if (r?.code !== ResponseCode.Registered) return;
    expect(r.clientId).toHaveLength(16);
    expect(r.clientId.some((b) => b !== 0)).toBe(true);
    const b = await RawClient.connect(srv.port);
    expect((await b.request(register('alice')))?.code).toBe(ResponseCode.RegisterFailed);
    // The connection stays usable after 1601.
    expect((await b.request(register('alice2')))?.code).toBe(ResponseCode.Registered);
    a.close();
    b.close();
    // The log line of a registration names the client it registered.
    const lines = srv.log.lines.filter(
      (l) => l.code === RequestCode.Register && l.result === ResponseCode.Registered,
    );
    expect(lines.map((l) => [l.name, l.msg])).toEqual(
      expect.arrayContaining([
        ['alice', 'alice registered'],
        ['alice2', 'alice2 registered'],
      ]),
    );
  });

  it.each([
    ['no NUL', rawNameField(new Uint8Array(255).fill(0x41))],
    ['empty', rawNameField('')],
    ['control character', rawNameField('bad\x07name')],
    ['non-ASCII', rawNameField(new Uint8Array([0x41, 0xe9, 0x42]))],
    ['101 characters', rawNameField('x'.repeat(101))],
  ])('rejects a malformed name (%s) with 1601 and keeps the connection', async (_label, field) => {
    const c = await RawClient.connect(srv.port);
    expect((await c.request(rawFrame(EMPTY_CLIENT_ID, RequestCode.Register, field)))?.code).toBe(
      ResponseCode.RegisterFailed,
    );
    expect((await c.request(register(`ok-${_label.length}-${Math.random()}`)))?.code).toBe(
      ResponseCode.Registered,
    );
    c.close();
  });

  it('accepts a 100-character name', async () => {
    const c = await RawClient.connect(srv.port);
    expect(
      (await c.request(rawFrame(EMPTY_CLIENT_ID, RequestCode.Register, rawNameField('n'.repeat(100)))))?.code,
    ).toBe(ResponseCode.Registered);
    c.close();
  });
});

describe('public key (1026)', () => {
  it("wraps a fresh AES key that unwraps with the client's private key", async () => {
    const c = await RawClient.connect(srv.port);
    const id = await registerAndExchange(c, 'bob');
    expect(id.aesKey).toHaveLength(32);
    c.close();
  });

  it("refuses a 1026 naming another client's name (1607), connection usable", async () => {
    const c = await RawClient.connect(srv.port);
    const victim = await registerAndExchange(c, 'victim');
    const attacker = await registerAndExchange(c, 'attacker');
    const keys = makeRsaKeys();
    const r = await c.request(
      encodeRequest({
        code: RequestCode.SendPublicKey,
        clientId: attacker.clientId,
        name: 'victim',
        publicKey: keys.spki,
      }),
    );
    expect(r?.code).toBe(ResponseCode.ServerError);
    // Victim still reconnects with its own key.
    const r2 = await c.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: victim.clientId, name: 'victim' }),
    );
    expect(r2?.code).toBe(ResponseCode.Reconnected);
    if (r2?.code !== ResponseCode.Reconnected) return;
    expect(unwrapKey(victim.keys, r2.encryptedKey)).toHaveLength(32);
    c.close();
  });

  it('refuses an unregistered client ID and a malformed key with 1607', async () => {
    const c = await RawClient.connect(srv.port);
    const keys = makeRsaKeys();
    const ghost = new Uint8Array(16).fill(7);
    expect(
      (
        await c.request(
          encodeRequest({
            code: RequestCode.SendPublicKey,
            clientId: ghost,
            name: 'ghost',
            publicKey: keys.spki,
          }),
        )
      )?.code,
    ).toBe(ResponseCode.ServerError);
    const reg = await c.request(register('badkey'));
    if (reg?.code !== ResponseCode.Registered) throw new Error('register failed');
    const junk = new Uint8Array(160).fill(0x30);
    expect(
      (
        await c.request(
          encodeRequest({
            code: RequestCode.SendPublicKey,
            clientId: reg.clientId,
            name: 'badkey',
            publicKey: junk,
          }),
        )
      )?.code,
    ).toBe(ResponseCode.ServerError);
    c.close();
  });
});

describe('reconnect (1027)', () => {
  it('gives a NEW AES key wrapped for the stored public key', async () => {
    const c = await RawClient.connect(srv.port);
    const id = await registerAndExchange(c, 'carol');
    c.close();
    const d = await RawClient.connect(srv.port);
    const r = await d.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: id.clientId, name: 'carol' }),
    );
    expect(r?.code).toBe(ResponseCode.Reconnected);
    if (r?.code !== ResponseCode.Reconnected) return;
    expect(Buffer.from(r.clientId)).toEqual(Buffer.from(id.clientId));
    const key = unwrapKey(id.keys, r.encryptedKey);
    expect(key).toHaveLength(32);
    expect(key.equals(id.aesKey)).toBe(false);
    d.close();
  });

  it('rejects an unknown name, a name without a key, and a wrong client ID with 1606', async () => {
    const c = await RawClient.connect(srv.port);
    const ghost = new Uint8Array(16).fill(9);
    const r1 = await c.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: ghost, name: 'nobody' }),
    );
    expect(r1?.code).toBe(ResponseCode.ReconnectRejected);
    const reg = await c.request(register('keyless'));
    if (reg?.code !== ResponseCode.Registered) throw new Error('register failed');
    const r2 = await c.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: reg.clientId, name: 'keyless' }),
    );
    expect(r2?.code).toBe(ResponseCode.ReconnectRejected);
    const dave = await registerAndExchange(c, 'dave');
    const r3 = await c.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: ghost, name: dave.name }),
    );
    expect(r3?.code).toBe(ResponseCode.ReconnectRejected);
    c.close();
  });
});

describe('LastSeen', () => {
  it('moves forward on every request of a registered client', async () => {
    const { SqliteDatabase } = await import('../../server/db');
    const { join } = await import('node:path');
    const lastSeen = async (id: Uint8Array) => {
      const db = new SqliteDatabase(join(srv.dataDir, 'defensive.db'), { readonly: true });
      try {
        return (await db.clientById(id))?.LastSeen ?? '';
      } finally {
        await db.close();
      }
    };
    const c = await RawClient.connect(srv.port);
    const id = await registerAndExchange(c, 'seen');
    const t1 = await lastSeen(id.clientId);
    await new Promise((r) => setTimeout(r, 20));
    // A request that fails (no such file) does not count: refused requests cost no write (issue 14).
    await c.request(encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName: 'none' }));
    expect(await lastSeen(id.clientId)).toBe(t1);
    await sendFile(c, id, { fileName: 'seen.bin', data: Buffer.from('x') });
    await c.next();
    await new Promise((r) => setTimeout(r, 20));
    await c.request(encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName: 'seen.bin' }));
    const t2 = await lastSeen(id.clientId);
    expect(t2 > t1).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    await c.request(encodeRequest({ code: RequestCode.Reconnect, clientId: id.clientId, name: 'seen' }));
    expect((await lastSeen(id.clientId)) > t2).toBe(true);
    c.close();
  });
});
