/**
 * What a `connected` answer of the worker does to the stored identity: a registration stores
 * the new one (v3 with its RSA key and the one-time me.info offer, v4 with neither), an
 * accepted import stores the imported one, and a v4 identity the server registered again
 * (after losing it) keeps its key under the client ID the server gave it now.
 */
import type { StoredIdentity } from '@/browser/identity-store';
import type { FromWorker } from '@/browser/upload-protocol';
import { formatMeInfo } from '@/lib/crypto';
import { clientIdToHex } from '@/lib/protocol';
import type { RegisteredAgain } from './transfer-types';

type Connected = Extract<FromWorker, { type: 'connected' }>;

const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The identity to store after `msg`, or undefined when the stored one stays as it is. */
export function identityAfterConnect(
  msg: Connected,
  current: StoredIdentity | null | undefined,
  pendingImport: StoredIdentity | null,
  now: number,
): StoredIdentity | undefined {
  const { name, clientId } = msg;
  if (msg.via === 'register') {
    const base = { name, clientId, createdAt: now, origin: 'registered' as const };
    return msg.privateKey ? { ...base, privateKey: msg.privateKey } : base;
  }
  if (pendingImport) return pendingImport;
  if (current && !current.privateKey && !sameBytes(current.clientId, clientId))
    return { ...current, clientId };
  return undefined;
}

/**
 * What to tell the person when the reconnect `msg` of a v4 identity came back with another
 * client ID than the stored one: the server did not know the key any more and registered it
 * again (its ClientAuth registers an unknown key). Null in every other case.
 */
export function registeredAgain(
  msg: Connected,
  current: StoredIdentity | null | undefined,
  pendingImport: StoredIdentity | null,
): RegisteredAgain | null {
  if (msg.via !== 'reconnect' || pendingImport || !current || current.privateKey) return null;
  if (sameBytes(current.clientId, msg.clientId)) return null;
  return {
    name: current.name,
    previousClientId: clientIdToHex(current.clientId),
    clientId: clientIdToHex(msg.clientId),
  };
}

/** The me.info text offered once after a v3 registration; a v4 key cannot leave the browser (none). */
export function meInfoAfterConnect(msg: Connected): { name: string; text: string; downloaded: false } | null {
  if (msg.via !== 'register' || !msg.privateKeyPkcs8) return null;
  const { name, clientId } = msg;
  return {
    name,
    text: formatMeInfo({ name, clientId, privateKeyPkcs8: msg.privateKeyPkcs8 }),
    downloaded: false,
  };
}
