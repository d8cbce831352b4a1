/**
 * Who a v4 client is: its Ed25519 key, proven by the handshake. The first time a key
 * connects it is registered (a clients row bound to the key, so the file store, folders
 * and quotas work as for v3); later it is found by the key. The name is for people only:
 * the stored Name gets the key's short fingerprint, so two clients may both be "alice".
 */
import { randomBytes } from 'node:crypto';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { fingerprint } from '../../lib/v4/keys';
import type { ClientRow, Database } from '../database';
import type { Refusal } from './partial-uploads';

export interface V4Client {
  row: ClientRow;
  registered: boolean;
}

export async function storedV4Name(name: string, key: Uint8Array): Promise<string> {
  return `${name} [v4 ${(await fingerprint(key)).slice(7, 15)}]`;
}

export async function findOrRegister(
  db: Database,
  key: Uint8Array,
  name: string,
  maxClients: number,
  now: string,
): Promise<V4Client | Refusal> {
  const known = await db.clientByV4Key(key);
  if (known) {
    await db.touch(known.ID, now);
    return { row: known, registered: false };
  }
  if ((await db.clientCount()) >= maxClients)
    return { code: V4ErrorCode.Busy, reason: 'The server has as many clients as it accepts.' };
  const id = new Uint8Array(randomBytes(16));
  if (!(await db.insertV4Client(id, await storedV4Name(name, key), key, now))) {
    // Another connection of the same key registered first (or, improbably, the name clashed).
    const again = await db.clientByV4Key(key);
    if (again) return { row: again, registered: false };
    return { code: V4ErrorCode.Internal, reason: 'The client could not be registered.' };
  }
  return { row: (await db.clientById(id))!, registered: true };
}
