/**
 * Getting an AES key for this connection, the flow both the CLI and the browser need:
 *   known client:  1027 -> 1605 (unwrap the new key with the stored private key)
 *                       -> 1606 (report it, then register anew as below)
 *   new client:    1025 -> 1600, 1026 -> 1602 (unwrap with the new key pair)
 */
import { ClientError } from './errors';
import type { ClientSession } from './session';

/** A fresh RSA key pair as far as the flow needs it; the caller keeps the private half to persist it. */
export interface NewKeyPair {
  /** DER SubjectPublicKeyInfo, 160 bytes. */
  publicKeySpki: Uint8Array;
  /** Decrypts the 128-byte wrapped AES key of 1602 with this pair's private key. */
  unwrap(encryptedKey: Uint8Array): Promise<Uint8Array>;
}

export type EstablishEvent =
  | { type: 'reconnecting' }
  | { type: 'reconnected' }
  /** 1606: the server does not know us (any more); a new registration follows unless disallowed. */
  | { type: 'reconnect-rejected' }
  | { type: 'registering' }
  | { type: 'registered'; clientId: Uint8Array }
  | { type: 'key-exchanged' };

export interface EstablishOptions<K extends NewKeyPair> {
  name: string;
  /** Identity from an earlier registration (me.info / IndexedDB): reconnect with it. */
  existing?: { clientId: Uint8Array };
  /** Unwraps the 1605 key with the existing identity's private key. */
  unwrap?(encryptedKey: Uint8Array): Promise<Uint8Array>;
  /** Makes the key pair for a new registration. */
  createKeyPair(): Promise<K>;
  /** On 1606: 'register' anew (default) or 'fail' with CLIENT_ERR_RECONNECT_REJECTED. */
  onRejected?: 'register' | 'fail';
  onEvent?(e: EstablishEvent): void;
}

export interface Established<K extends NewKeyPair> {
  clientId: Uint8Array;
  /** 32-byte AES key for this connection. */
  aesKey: Uint8Array;
  /** True when a new registration happened: persist `keyPair` and `clientId`. */
  registered: boolean;
  /** True when the server answered 1027 with 1606. */
  reconnectRejected: boolean;
  /** The key pair made for a new registration (absent after a successful reconnect). */
  keyPair?: K;
}

export async function establishIdentity<K extends NewKeyPair>(
  session: ClientSession,
  opts: EstablishOptions<K>,
): Promise<Established<K>> {
  const { name, existing, onEvent } = opts;
  let reconnectRejected = false;
  if (existing) {
    if (!opts.unwrap) throw new TypeError('establishIdentity: `unwrap` is required with `existing`.');
    onEvent?.({ type: 'reconnecting' });
    const res = await session.reconnect(name, existing.clientId);
    if (res.accepted) {
      const aesKey = await opts.unwrap(res.encryptedKey);
      onEvent?.({ type: 'reconnected' });
      return { clientId: existing.clientId, aesKey, registered: false, reconnectRejected: false };
    }
    reconnectRejected = true;
    onEvent?.({ type: 'reconnect-rejected' });
    if (opts.onRejected === 'fail') {
      throw new ClientError(
        'CLIENT_ERR_RECONNECT_REJECTED',
        `The server does not recognise client "${name}" any more (1606). Register again to get a new identity.`,
      );
    }
  }
  // Make the key first: a failure here must not leave a registered name without a key.
  const keyPair = await opts.createKeyPair();
  onEvent?.({ type: 'registering' });
  const clientId = await session.register(name);
  onEvent?.({ type: 'registered', clientId });
  const encryptedKey = await session.sendPublicKey(name, keyPair.publicKeySpki);
  const aesKey = await keyPair.unwrap(encryptedKey);
  onEvent?.({ type: 'key-exchanged' });
  return { clientId, aesKey, registered: true, reconnectRejected, keyPair };
}
