/**
 * The server's long-term v4 signing key (Ed25519) in its data folder: `server.key` (PKCS #8,
 * base64, 0600) and `server.pub` (the raw 32-byte public key, base64url, one line). Created
 * on first need, never overwritten: clients pin it, so a new key is a warning for every one
 * of them. Its fingerprint is printed at start and by `npm run server -- info`.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { base64ToBytes, bytesToBase64 } from '../../lib/crypto/encoding';
import {
  exportSigningKey,
  fingerprint,
  generateSigningKey,
  importSigningKey,
  type KeyPairWithRaw,
} from '../../lib/v4';
import { tempPathFor } from '../../platform/atomic-file';
import { FILE_MODE } from '../data-folder';
import { ServerError } from '../errors';

export const SERVER_KEY_FILE = 'server.key';
export const SERVER_PUB_FILE = 'server.pub';
/** The files the server keeps in its data folder for its v4 key (beside defensive.db). */
export const SERVER_KEY_FILES: readonly string[] = [SERVER_KEY_FILE, SERVER_PUB_FILE];

export interface ServerIdentity {
  key: KeyPairWithRaw;
  fingerprint: string;
}

const b64url = (b: Uint8Array) => bytesToBase64(b).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');

/** Writes `path` only if it does not exist (a hard link of a temp file: atomic, never clobbers). */
async function writeNew(path: string, text: string, mode: number): Promise<boolean> {
  // Named as writeFileAtomically names its own, so the next start removes one a kill -9 left.
  const tmp = tempPathFor(path);
  await writeFile(tmp, text, { mode, flush: true });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

async function readKey(dataDir: string): Promise<ServerIdentity | null> {
  let text: string;
  try {
    text = await readFile(join(dataDir, SERVER_KEY_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const key = await importSigningKey(base64ToBytes(text.trim()));
    return { key, fingerprint: await fingerprint(key.publicRaw) };
  } catch (e) {
    throw new ServerError('SERVER_ERR_STORAGE', `${SERVER_KEY_FILE} in ${dataDir} is not an Ed25519 key.`, {
      cause: e,
    });
  }
}

/** The server's key, created (with server.pub) when the data folder has none. */
export async function loadServerIdentity(dataDir: string): Promise<ServerIdentity> {
  const existing = await readKey(dataDir);
  if (existing) return existing;
  const fresh = await generateSigningKey(true);
  const pkcs8 = await exportSigningKey(fresh.privateKey);
  if (!(await writeNew(join(dataDir, SERVER_KEY_FILE), `${bytesToBase64(pkcs8)}\n`, FILE_MODE))) {
    return (await readKey(dataDir))!; // another process made it first
  }
  // 0600 like every file in the data folder (it is public; copy it out to publish it).
  await writeFile(join(dataDir, SERVER_PUB_FILE), `${b64url(fresh.publicRaw)}\n`, { mode: FILE_MODE });
  return (await readKey(dataDir))!;
}

/** The fingerprint without creating a key (for `info`); null when there is none yet. */
export async function readServerFingerprint(dataDir: string): Promise<string | null> {
  return (await readKey(dataDir))?.fingerprint ?? null;
}
