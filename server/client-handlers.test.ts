import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, RequestCode, ResponseCode } from '../lib/protocol';
import { KEYLESS_NAME_RECLAIM_MS, register, sendPublicKey } from './client-handlers';
import { ServerDatabase } from './db';

let dir: string;
let db: ServerDatabase;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-handlers-'));
  db = new ServerDatabase(join(dir, 'defensive.db'));
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms).toISOString();
const reg = (name: string, now: string) =>
  register(db, { code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }, now);
const spki = () =>
  new Uint8Array(
    generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 17 }).publicKey.export({
      type: 'spki',
      format: 'der',
    }),
  );

describe('1025 for a name whose client never sent its key', () => {
  it('is refused while the first registration may still send 1026', () => {
    expect(reg('ann', at(0)).response.code).toBe(ResponseCode.Registered);
    expect(reg('ann', at(KEYLESS_NAME_RECLAIM_MS - 1)).response.code).toBe(ResponseCode.RegisterFailed);
  });

  it('is granted to a new client ID once the keyless registration is stale; the old ID is gone', () => {
    const first = reg('ann', at(0)).response;
    expect(first.code).toBe(ResponseCode.Registered);
    const second = reg('ann', at(KEYLESS_NAME_RECLAIM_MS)).response;
    expect(second.code).toBe(ResponseCode.Registered);
    if (first.code !== ResponseCode.Registered || second.code !== ResponseCode.Registered) return;
    expect(Buffer.from(second.clientId).equals(Buffer.from(first.clientId))).toBe(false);
    expect(db.clientById(first.clientId)).toBeUndefined();
    expect(db.clientByName('ann')?.ID).toEqual(Buffer.from(second.clientId));
  });

  it('never takes a name that has a public key, however old', () => {
    const first = reg('bob', at(0)).response;
    if (first.code !== ResponseCode.Registered) throw new Error('registration failed');
    sendPublicKey(
      db,
      { code: RequestCode.SendPublicKey, clientId: first.clientId, name: 'bob', publicKey: spki() },
      at(1),
    );
    expect(reg('bob', at(365 * 24 * 3600 * 1000)).response.code).toBe(ResponseCode.RegisterFailed);
    expect(db.clientByName('bob')?.ID).toEqual(Buffer.from(first.clientId));
  });
});
