import { describe, expect, it } from 'vitest';
import { identityProtocol, isStoredIdentity, type StoredIdentity } from '@/browser/identity-store';
import { identityAfterConnect, meInfoAfterConnect } from './identity-rules';

const clientId = new Uint8Array(16).fill(3);
const rsa = (await crypto.subtle.generateKey(
  { name: 'RSA-OAEP', modulusLength: 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-1' },
  false,
  ['decrypt', 'encrypt'],
)) as CryptoKeyPair;

describe('the stored identity: with and without the v3 part', () => {
  it('a v3 identity has its RSA key; a v4 identity has none and is protocol 4', () => {
    const v3 = { name: 'a', clientId, privateKey: rsa.privateKey, createdAt: 1, origin: 'registered' };
    const v4 = { name: 'a', clientId, createdAt: 1, origin: 'registered' };
    expect(isStoredIdentity(v3)).toBe(true);
    expect(isStoredIdentity(v4)).toBe(true);
    expect(identityProtocol(v3 as StoredIdentity)).toBe(3);
    expect(identityProtocol(v4 as StoredIdentity)).toBe(4);
  });
  it('refuses damaged shapes: a privateKey that is not a CryptoKey, a short client ID, no name', () => {
    expect(isStoredIdentity({ name: 'a', clientId, privateKey: 'pem' })).toBe(false);
    expect(isStoredIdentity({ name: 'a', clientId: new Uint8Array(4) })).toBe(false);
    expect(isStoredIdentity({ clientId })).toBe(false);
    expect(isStoredIdentity(null)).toBe(false);
  });
});

describe('identityAfterConnect / meInfoAfterConnect', () => {
  const base = { type: 'connected' as const, name: 'a', clientId };
  it('a v4 registration: name and client ID only, no me.info', () => {
    const msg = { ...base, via: 'register' as const, protocol: 4 as const };
    expect(identityAfterConnect(msg, null, null, 5)).toEqual({
      name: 'a',
      clientId,
      createdAt: 5,
      origin: 'registered',
    });
    expect(meInfoAfterConnect(msg)).toBeNull();
  });
  it('a v3 registration: the RSA key and the me.info offer', () => {
    const msg = {
      ...base,
      via: 'register' as const,
      privateKey: rsa.privateKey,
      privateKeyPkcs8: new Uint8Array([0x30, 1, 2]),
    };
    expect(identityAfterConnect(msg, null, null, 5)?.privateKey).toBe(rsa.privateKey);
    expect(meInfoAfterConnect(msg)?.text).toContain('a');
  });
  it('a reconnect: the pending import is stored; otherwise nothing changes unless a v4 identity got a new ID', () => {
    const msg = { ...base, via: 'reconnect' as const };
    const imported: StoredIdentity = {
      name: 'a',
      clientId,
      privateKey: rsa.privateKey,
      createdAt: 1,
      origin: 'imported',
    };
    expect(identityAfterConnect(msg, null, imported, 5)).toBe(imported);
    expect(identityAfterConnect(msg, imported, null, 5)).toBeUndefined();
    const v4: StoredIdentity = {
      name: 'a',
      clientId: new Uint8Array(16),
      createdAt: 1,
      origin: 'registered',
    };
    expect(identityAfterConnect(msg, v4, null, 5)).toEqual({ ...v4, clientId });
    expect(identityAfterConnect({ ...msg, clientId: v4.clientId }, v4, null, 5)).toBeUndefined();
  });
});
