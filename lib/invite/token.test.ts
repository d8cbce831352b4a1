import { describe, expect, it } from 'vitest';
import { InviteError } from './errors';
import { inviteLink, tokenFromLink } from './link';
import {
  bytesToBase64Url,
  generateInviteKeyPair,
  type InvitePayload,
  importInvitePrivateKey,
  importInvitePublicKey,
  readInviteUnverified,
  signInvite,
  verifyInvite,
} from './token';

const NOW = 1_800_000_000;
const payload: InvitePayload = {
  v: 1,
  id: '0123456789abcdef',
  label: 'Dana',
  iat: NOW,
  exp: NOW + 7 * 86400,
  maxBytes: 10 * 2 ** 30,
  maxFiles: 100,
  maxClients: 1,
};

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    expect(e).toBeInstanceOf(InviteError);
    return (e as InviteError).code;
  }
}

describe('invite tokens', () => {
  it('round-trips through sign and verify, and the payload is readable unverified', async () => {
    const keys = await generateInviteKeyPair();
    const token = await signInvite(payload, keys.privateKey);
    expect(token).toMatch(/^sfi1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
    expect(await verifyInvite(token, keys.publicKey, NOW + 1)).toEqual(payload);
    expect(readInviteUnverified(token)).toEqual(payload);
  });

  it('refuses a token signed by another key, or with any payload byte changed (forged)', async () => {
    const keys = await generateInviteKeyPair();
    const other = await generateInviteKeyPair();
    const token = await signInvite(payload, other.privateKey);
    expect(await codeOf(verifyInvite(token, keys.publicKey, NOW))).toBe('INVITE_ERR_FORGED');

    const good = await signInvite(payload, keys.privateKey);
    const [, body, sig] = good.split('.') as [string, string, string];
    const changed = bytesToBase64Url(
      new TextEncoder().encode(JSON.stringify({ ...payload, maxBytes: null, maxFiles: null })),
    );
    expect(await codeOf(verifyInvite(`sfi1.${changed}.${sig}`, keys.publicKey, NOW))).toBe(
      'INVITE_ERR_FORGED',
    );
    // Another first character: six bits of the signature's first byte change. (Replacing the
    // last two with "AA" changed nothing when its last byte was 0, about 1 run in 16: an
    // Ed25519 signature's last byte is the top of S < 2^253, so 0x00-0x10.)
    const altered = `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`;
    expect(await codeOf(verifyInvite(`sfi1.${body}.${altered}`, keys.publicKey, NOW))).toBe(
      'INVITE_ERR_FORGED',
    );
  });

  it('refuses an expired token at and after its expiry second', async () => {
    const keys = await generateInviteKeyPair();
    const token = await signInvite(payload, keys.privateKey);
    expect(await codeOf(verifyInvite(token, keys.publicKey, payload.exp - 1))).toBe('resolved');
    expect(await codeOf(verifyInvite(token, keys.publicKey, payload.exp))).toBe('INVITE_ERR_EXPIRED');
  });

  it('refuses malformed tokens without touching the key', async () => {
    const keys = await generateInviteKeyPair();
    const good = await signInvite(payload, keys.privateKey);
    const [, body, sig] = good.split('.') as [string, string, string];
    const bad = [
      '',
      'sfi2.a.b',
      `sfi1.${body}`,
      `sfi1.${body}.${sig}.x`,
      `sfi1.${body}!.${sig}`,
      `sfi1.${body}.${sig.slice(4)}`,
      `sfi1.${bytesToBase64Url(new TextEncoder().encode('not json'))}.${sig}`,
      `sfi1.${bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ ...payload, id: 'ZZ' })))}.${sig}`,
      `sfi1.${bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ ...payload, maxClients: 0 })))}.${sig}`,
      `sfi1.${bytesToBase64Url(new TextEncoder().encode(JSON.stringify({ ...payload, exp: NOW - 1 })))}.${sig}`,
      `sfi1.${'A'.repeat(3000)}.${sig}`,
    ];
    for (const t of bad)
      expect(await codeOf(verifyInvite(t, keys.publicKey, NOW)), t.slice(0, 40)).toBe('INVITE_ERR_MALFORMED');
  });

  it('keys survive export and import (PKCS #8 private, 32-byte raw public)', async () => {
    const keys = await generateInviteKeyPair();
    const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
    const raw = new Uint8Array(await crypto.subtle.exportKey('raw', keys.publicKey));
    const token = await signInvite(payload, await importInvitePrivateKey(pkcs8));
    expect(await verifyInvite(token, await importInvitePublicKey(raw), NOW)).toEqual(payload);
    expect(await codeOf(importInvitePublicKey(raw.subarray(1)))).toBe('INVITE_ERR_BAD_KEY');
    expect(await codeOf(importInvitePrivateKey(raw))).toBe('INVITE_ERR_BAD_KEY');
  });
});

describe('invite links', () => {
  it('put the token in the fragment and read it back from a link or a bare token', () => {
    const link = inviteLink('https://files.example.org/send?x=1#old', 'sfi1.abc.def');
    expect(link).toBe('https://files.example.org/send?x=1#invite=sfi1.abc.def');
    expect(tokenFromLink(`  ${link}\n`)).toBe('sfi1.abc.def');
    expect(tokenFromLink('sfi1.abc.def')).toBe('sfi1.abc.def');
    expect(() => tokenFromLink('https://files.example.org/')).toThrow(InviteError);
    expect(() => tokenFromLink('https://files.example.org/#invite=nope')).toThrow(/no #invite=/);
  });
});
