/**
 * Invite keys and tokens for tests: a key pair with its invite.pub written as the server
 * writes it (the 32-byte raw public key, base64url, one line), and tokens signed with it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bytesToBase64Url, generateInviteKeyPair, type InvitePayload, signInvite } from '../../lib/invite';

export interface TestInviteKeys {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** Where invite.pub was written. */
  pubFile: string;
}

/** A fresh key pair; its public half written to `<dir>/invite.pub`. */
export async function makeInviteKeys(dir: string): Promise<TestInviteKeys> {
  const { privateKey, publicKey } = await generateInviteKeyPair();
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', publicKey));
  const pubFile = join(dir, 'invite.pub');
  writeFileSync(pubFile, `${bytesToBase64Url(raw)}\n`, { mode: 0o644 });
  return { privateKey, publicKey, pubFile };
}

let counter = 0;

/** A token signed with `privateKey`; valid for a day unless `fields` say otherwise. */
export function mintInvite(privateKey: CryptoKey, fields: Partial<InvitePayload> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  counter += 1;
  return signInvite(
    {
      v: 1,
      id: (0xabc000 + counter).toString(16).padStart(16, '0'),
      label: 'test',
      iat: now,
      exp: now + 86_400,
      maxBytes: null,
      maxFiles: null,
      maxClients: 1,
      ...fields,
    },
    privateKey,
  );
}
