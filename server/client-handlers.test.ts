import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateInviteKeyPair } from '../lib/invite';
import { EMPTY_CLIENT_ID, RequestCode, ResponseCode } from '../lib/protocol';
import { KEYLESS_NAME_RECLAIM_MS, register, sendPublicKey } from './client-handlers';
import { HARDENING_DEFAULTS } from './config';
import { SqliteDatabase } from './db';
import { FileStore } from './file-store';
import type { HandlerContext } from './handler-context';
import { InviteGate } from './invite-gate';
import { LocalFileStorage } from './local-storage';
import { PeerLimits } from './peer-limits';
import { Session } from './session';

let dir: string;
let db: SqliteDatabase;
let invites: InviteGate;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-handlers-'));
  db = new SqliteDatabase(join(dir, 'defensive.db'));
  invites = new InviteGate(db, (await generateInviteKeyPair()).publicKey, 'open');
});
afterEach(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const ctx = (now: string): HandlerContext => ({
  db,
  files: new FileStore(db, new LocalFileStorage(dir)),
  session: new Session('127.0.0.1'),
  limits: new PeerLimits(HARDENING_DEFAULTS),
  maxClients: HARDENING_DEFAULTS.maxClients,
  invites,
  now,
});
const reg = async (name: string, now: string) =>
  (await register({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }, ctx(now))).response!;
const spki = () =>
  new Uint8Array(
    generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 17 }).publicKey.export({
      type: 'spki',
      format: 'der',
    }),
  );

describe('1025 for a name whose client never sent its key', () => {
  it('is refused while the first registration may still send 1026', async () => {
    expect((await reg('ann', at(0))).code).toBe(ResponseCode.Registered);
    expect((await reg('ann', at(KEYLESS_NAME_RECLAIM_MS - 1))).code).toBe(ResponseCode.RegisterFailed);
  });

  it('is granted to a new client ID once the keyless registration is stale; the old ID is gone', async () => {
    const first = await reg('ann', at(0));
    expect(first.code).toBe(ResponseCode.Registered);
    const second = await reg('ann', at(KEYLESS_NAME_RECLAIM_MS));
    expect(second.code).toBe(ResponseCode.Registered);
    if (first.code !== ResponseCode.Registered || second.code !== ResponseCode.Registered) return;
    expect(Buffer.from(second.clientId).equals(Buffer.from(first.clientId))).toBe(false);
    expect(await db.clientById(first.clientId)).toBeUndefined();
    expect((await db.clientByName('ann'))?.ID).toEqual(Buffer.from(second.clientId));
  });

  it('never takes a name that has a public key, however old', async () => {
    const first = await reg('bob', at(0));
    if (first.code !== ResponseCode.Registered) throw new Error('registration failed');
    await sendPublicKey(
      { code: RequestCode.SendPublicKey, clientId: first.clientId, name: 'bob', publicKey: spki() },
      ctx(at(1)),
    );
    expect((await reg('bob', at(365 * 24 * 3600 * 1000))).code).toBe(ResponseCode.RegisterFailed);
    expect((await db.clientByName('bob'))?.ID).toEqual(Buffer.from(first.clientId));
  });
});
