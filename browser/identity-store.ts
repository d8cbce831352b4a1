/**
 * This browser's identity in IndexedDB (idb-keyval): name, client ID and the RSA private
 * key as a non-extractable CryptoKey. IndexedDB stores CryptoKey objects by structured
 * clone, so the key material never exists as bytes the page can read back.
 *
 * Layout (read by the e2e tests too): database `sftransfer`, object store `keyval`,
 * key `identity` (and `invite`, the token of the invite link it sends under).
 */
import { createStore, del, get, set, type UseStore } from 'idb-keyval';
import { BrowserError } from './errors';

export const IDENTITY_DB = 'sftransfer';
export const IDENTITY_STORE = 'keyval';
export const IDENTITY_KEY = 'identity';

export interface StoredIdentity {
  name: string;
  /** 16 raw bytes. */
  clientId: Uint8Array;
  /** RSA-OAEP SHA-1 private key, extractable === false. */
  privateKey: CryptoKey;
  /** When this browser got the identity (ms since epoch). */
  createdAt: number;
  /** How it got it. */
  origin: 'registered' | 'imported';
}

let store: UseStore | undefined;
function identityStore(): UseStore {
  store ??= createStore(IDENTITY_DB, IDENTITY_STORE);
  return store;
}

function storageError(what: string, cause: unknown): BrowserError {
  return new BrowserError(
    'BROWSER_ERR_STORAGE',
    `This browser would not ${what} its storage (IndexedDB). Private windows and full disks can cause this.`,
    { cause },
  );
}

function isStoredIdentity(v: unknown): v is StoredIdentity {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.name === 'string' &&
    o.clientId instanceof Uint8Array &&
    typeof CryptoKey !== 'undefined' &&
    o.privateKey instanceof CryptoKey
  );
}

export async function loadIdentity(): Promise<StoredIdentity | undefined> {
  let v: unknown;
  try {
    v = await get(IDENTITY_KEY, identityStore());
  } catch (cause) {
    throw storageError('read', cause);
  }
  return isStoredIdentity(v) ? v : undefined;
}

/** Stores the identity; refuses an extractable key so the private key can never be read back. */
export async function saveIdentity(identity: StoredIdentity): Promise<void> {
  if (identity.privateKey.extractable) {
    throw new BrowserError('BROWSER_ERR_STORAGE', 'Refusing to store an extractable private key.');
  }
  try {
    await set(IDENTITY_KEY, identity, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}

export async function forgetIdentity(): Promise<void> {
  try {
    await del(IDENTITY_KEY, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}

/**
 * The invite this browser sends under (the token from the link), beside the identity in the
 * same store, key `invite`: kept across reloads and reconnects, removed with the identity.
 */
export const INVITE_KEY = 'invite';

export async function loadInvite(): Promise<string | undefined> {
  let v: unknown;
  try {
    v = await get(INVITE_KEY, identityStore());
  } catch (cause) {
    throw storageError('read', cause);
  }
  return typeof v === 'string' ? v : undefined;
}

export async function saveInvite(token: string): Promise<void> {
  try {
    await set(INVITE_KEY, token, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}

export async function forgetInvite(): Promise<void> {
  try {
    await del(INVITE_KEY, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}
