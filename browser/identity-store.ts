/**
 * This browser's identity in IndexedDB (idb-keyval): name, client ID and, for a protocol v3
 * identity, the RSA private key as a non-extractable CryptoKey. IndexedDB stores CryptoKey
 * objects by structured clone, so the key material never exists as bytes the page can read
 * back. A protocol v4 identity has no RSA key: its key is the v4 key (`v4identity`,
 * v4-store.ts), and its client ID the one the server's Welcome gave it.
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
  /** Protocol v3 identities only: the RSA-OAEP SHA-1 private key, extractable === false. */
  privateKey?: CryptoKey;
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

/** The protocol an identity registers and reconnects by: 3 with its RSA key, else 4. */
export function identityProtocol(identity: Pick<StoredIdentity, 'privateKey'>): 3 | 4 {
  return identity.privateKey ? 3 : 4;
}

/** A stored identity: name and 16-byte client ID, and the RSA key when there is one (a v3 identity). */
export function isStoredIdentity(v: unknown): v is StoredIdentity {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  const key =
    o.privateKey === undefined || (typeof CryptoKey !== 'undefined' && o.privateKey instanceof CryptoKey);
  return typeof o.name === 'string' && o.clientId instanceof Uint8Array && o.clientId.length === 16 && key;
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
  if (identity.privateKey?.extractable) {
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
 * The link's server fingerprint (`&server=SHA256:...`), if it had one, under `inviteServer`.
 */
export const INVITE_KEY = 'invite';
export const INVITE_SERVER_KEY = 'inviteServer';

/** An invite as kept: its token and the link's server key fingerprint. */
export interface KeptInvite {
  token: string;
  server?: string;
}

export async function loadInvite(): Promise<KeptInvite | undefined> {
  let v: unknown;
  let server: unknown;
  try {
    [v, server] = await Promise.all([
      get(INVITE_KEY, identityStore()),
      get(INVITE_SERVER_KEY, identityStore()),
    ]);
  } catch (cause) {
    throw storageError('read', cause);
  }
  if (typeof v !== 'string') return undefined;
  return typeof server === 'string' ? { token: v, server } : { token: v };
}

export async function saveInvite(invite: KeptInvite): Promise<void> {
  try {
    await set(INVITE_KEY, invite.token, identityStore());
    if (invite.server === undefined) await del(INVITE_SERVER_KEY, identityStore());
    else await set(INVITE_SERVER_KEY, invite.server, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}

export async function forgetInvite(): Promise<void> {
  try {
    await del(INVITE_KEY, identityStore());
    await del(INVITE_SERVER_KEY, identityStore());
  } catch (cause) {
    throw storageError('write to', cause);
  }
}
