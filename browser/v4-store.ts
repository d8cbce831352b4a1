/**
 * The page's protocol v4 state in IndexedDB, in the identity's store (database `sftransfer`,
 * object store `keyval`), used by the upload worker (IndexedDB works in workers):
 * - `v4identity`: the Ed25519 key pair, the private key non-extractable (a CryptoKey kept
 *   by structured clone, never as bytes), made on first use; removed with the identity;
 * - `v4pins`: bridge `host:port` -> the server key's fingerprint, pinned on first use; only
 *   the person removes a pin (after the changed-key warning);
 * - `v4uploads`: unfinished uploads (file name, size, lastModified -> upload ID and file
 *   key) so a cut connection or a reload resumes; removed with the identity.
 */
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import { fingerprint, generateSigningKey, type KeyPairWithRaw } from '../lib/v4/keys';
import { BrowserError } from './errors';
import { IDENTITY_DB, IDENTITY_STORE } from './identity-store';
import {
  type FileIdentity,
  findKept,
  isKeptUpload,
  type KeptUpload,
  type Pins,
  pinAddress,
  withKept,
  withoutKept,
  withoutPin,
} from './v4-rules';

export const V4_IDENTITY_KEY = 'v4identity';
export const V4_PINS_KEY = 'v4pins';
export const V4_UPLOADS_KEY = 'v4uploads';

let store: UseStore | undefined;
function v4Store(): UseStore {
  store ??= createStore(IDENTITY_DB, IDENTITY_STORE);
  return store;
}

async function io<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw new BrowserError(
      'BROWSER_ERR_STORAGE',
      `This browser would not ${what} its storage (IndexedDB). Private windows and full disks can cause this.`,
      { cause },
    );
  }
}

function isKeyPair(v: unknown): v is KeyPairWithRaw {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    o.privateKey instanceof CryptoKey && o.publicKey instanceof CryptoKey && o.publicRaw instanceof Uint8Array
  );
}

/** This browser's v4 key, made (non-extractable) and stored on first use. */
export async function loadOrCreateV4Key(): Promise<KeyPairWithRaw> {
  const kept = await io('read', () => get(V4_IDENTITY_KEY, v4Store()));
  if (isKeyPair(kept)) return kept;
  const key = await generateSigningKey(false);
  await io('write to', () => set(V4_IDENTITY_KEY, key, v4Store()));
  return key;
}

/**
 * For the identity card: this browser's v4 key fingerprint (null before one was made; never
 * made here) and the server key pinned for `bridgeUrl` (null before the first v4 connection).
 */
export async function readV4Fingerprints(
  bridgeUrl: string,
): Promise<{ key: string | null; server: string | null }> {
  const kept = await io('read', () => get(V4_IDENTITY_KEY, v4Store()));
  const key = isKeyPair(kept) ? await fingerprint(kept.publicRaw) : null;
  return { key, server: (await loadPins())[pinAddress(bridgeUrl)] ?? null };
}

/** Forgets the v4 key and the uploads kept under it (with the identity). Pins stay: they are about servers. */
export async function forgetV4Identity(): Promise<void> {
  await io('write to', async () => {
    await del(V4_IDENTITY_KEY, v4Store());
    await del(V4_UPLOADS_KEY, v4Store());
  });
}

export async function loadPins(): Promise<Pins> {
  const v = await io('read', () => get(V4_PINS_KEY, v4Store()));
  return typeof v === 'object' && v !== null ? (v as Pins) : {};
}

export function savePins(pins: Pins): Promise<void> {
  return io('write to', () => set(V4_PINS_KEY, pins, v4Store()));
}

/** Removes the pin of `address` (the person confirmed the server's new key). */
export async function forgetPin(address: string): Promise<void> {
  await savePins(withoutPin(await loadPins(), address));
}

async function keptUploads(): Promise<KeptUpload[]> {
  const v = await io('read', () => get(V4_UPLOADS_KEY, v4Store()));
  return Array.isArray(v) ? v.filter(isKeptUpload) : [];
}

export async function findKeptUpload(server: string, f: FileIdentity): Promise<KeptUpload | undefined> {
  return findKept(await keptUploads(), server, f);
}

export async function keepUpload(u: KeptUpload): Promise<void> {
  const list = withKept(await keptUploads(), u);
  await io('write to', () => set(V4_UPLOADS_KEY, list, v4Store()));
}

export async function forgetKeptUpload(server: string, f: FileIdentity): Promise<void> {
  const list = withoutKept(await keptUploads(), server, f);
  await io('write to', () => set(V4_UPLOADS_KEY, list, v4Store()));
}
