/**
 * Who a v4 client is: its Ed25519 key, proven by the handshake. The first time a key
 * connects it is registered (a clients row bound to the key, so the file store, folders
 * and quotas work as for v3); later it is found by the key. The name is for people only:
 * the stored Name gets the key's short fingerprint, so two clients may both be "alice".
 * (Who may register, and with which invite: v4-access.ts.)
 */
import { fingerprint } from '../../lib/v4/keys';

export async function storedV4Name(name: string, key: Uint8Array): Promise<string> {
  return `${name} [v4 ${(await fingerprint(key)).slice(7, 15)}]`;
}
