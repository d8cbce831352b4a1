/** An identity from a me.info file (the CLI's and the reference client's identity file). */
import type { StoredIdentity } from '@/browser/identity-store';
import { parseMeInfo } from '@/lib/crypto';

/** me.info is a few hundred bytes; anything much larger is not one. */
export const MAX_ME_INFO_BYTES = 64 * 1024;

/** Reads `file` and imports its key (non-extractable); throws with a sentence when it is not a me.info. */
export async function identityFromMeInfo(
  file: File,
  importPrivateKey: (pkcs8: Uint8Array) => Promise<CryptoKey>,
  now: number,
): Promise<StoredIdentity> {
  if (file.size > MAX_ME_INFO_BYTES) throw new Error(`${file.name} is too large to be a me.info file.`);
  const parsed = parseMeInfo(await file.text());
  return {
    name: parsed.name,
    clientId: parsed.clientId,
    privateKey: await importPrivateKey(parsed.privateKeyPkcs8),
    createdAt: now,
    origin: 'imported',
  };
}
