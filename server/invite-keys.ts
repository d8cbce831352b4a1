/**
 * The server's invite key pair in its data folder (issue 15): `invite.key`, the Ed25519
 * private key (PKCS #8, base64, one line, 0600), which signs invites; `invite.pub`, the 32-byte
 * raw public key (base64url, one line), which verifies them here and at the bridge
 * (`--invite-key`). Created on first need (server start, `invite create`) and never
 * overwritten: replacing it would silently invalidate every link given out.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bytesToBase64 } from '../lib/crypto';
import {
  base64UrlToBytes,
  bytesToBase64Url,
  generateInviteKeyPair,
  importInvitePrivateKey,
  importInvitePublicKey,
} from '../lib/invite';
import { tempPathFor } from '../platform/atomic-file';
import { FILE_MODE } from './data-folder';
import { ServerError } from './errors';

export const INVITE_KEY_FILE = 'invite.key';
export const INVITE_PUB_FILE = 'invite.pub';

export interface InviteKeys {
  publicKey: CryptoKey;
  /** Present when invite.key could be read (signing; the server itself only verifies). */
  privateKey?: CryptoKey;
  /** The public key as stored in invite.pub. */
  publicText: string;
}

const missing = (e: unknown) => (e as NodeJS.ErrnoException).code === 'ENOENT';

async function readText(path: string): Promise<string | null> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch (e) {
    if (missing(e)) return null;
    throw storage(`Cannot read ${path}`, e);
  }
}

function storage(what: string, e: unknown): ServerError {
  return new ServerError('SERVER_ERR_STORAGE', `${what}: ${(e as Error).message}`, { cause: e });
}

/**
 * Writes a new file only: a key that appeared meanwhile is kept, never replaced. Whole or
 * not at all: the text goes to a temp file (flushed to disk) that is then hard-linked to
 * `path`, as server-key.ts does. Written in place, a write cut part-way (a full disk, a kill,
 * a power loss before the data reached the disk) left a damaged invite.key the server then
 * refused to start with, and never replaces by itself.
 */
async function writeNew(path: string, text: string, mode: number): Promise<boolean> {
  // Named as writeFileAtomically names its own, so the next start removes one a kill -9 left.
  const tmp = tempPathFor(path);
  try {
    await writeFile(tmp, `${text}\n`, { flag: 'wx', mode, flush: true });
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw storage(`Cannot write ${path}`, e);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The raw public key of a PKCS #8 Ed25519 private key (node:crypto derives it). */
function publicOf(pkcs8: Uint8Array): string {
  const jwk = createPublicKey(
    createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' }),
  ).export({
    format: 'jwk',
  });
  return String(jwk.x);
}

/**
 * Loads the pair from `dataDir` (which must exist), creating it when neither file is there;
 * writes invite.pub again from invite.key when only the public half is missing. An
 * invite.pub without its invite.key is used for verifying only.
 */
export async function loadInviteKeys(dataDir: string): Promise<InviteKeys> {
  const keyPath = join(dataDir, INVITE_KEY_FILE);
  const pubPath = join(dataDir, INVITE_PUB_FILE);
  let keyText = await readText(keyPath);
  let pubText = await readText(pubPath);
  if (keyText === null && pubText === null) {
    const pair = await generateInviteKeyPair();
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
    // The private half first: a crash between the two leaves a state the next start repairs.
    await writeNew(keyPath, bytesToBase64(pkcs8), FILE_MODE);
    await writeNew(pubPath, bytesToBase64Url(raw), 0o644);
    keyText = await readText(keyPath);
    pubText = await readText(pubPath);
  }
  try {
    const pkcs8 = keyText === null ? null : Buffer.from(keyText, 'base64');
    if (pkcs8 && pubText === null) {
      await writeNew(pubPath, publicOf(pkcs8), 0o644);
      pubText = await readText(pubPath);
    }
    const publicKey = await importInvitePublicKey(base64UrlToBytes(pubText ?? '', 'public key'));
    const privateKey = pkcs8 ? await importInvitePrivateKey(pkcs8) : undefined;
    if (pkcs8 && publicOf(pkcs8) !== pubText) {
      throw new Error(`${INVITE_PUB_FILE} is not the public half of ${INVITE_KEY_FILE}`);
    }
    return { publicKey, ...(privateKey ? { privateKey } : {}), publicText: pubText! };
  } catch (e) {
    if (e instanceof ServerError) throw e;
    throw storage(`The invite key pair in ${dataDir} is unusable`, e);
  }
}
