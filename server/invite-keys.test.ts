import { mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readInviteUnverified, signInvite, verifyInvite } from '../lib/invite';
import { INVITE_KEY_FILE, INVITE_PUB_FILE, loadInviteKeys } from './invite-keys';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-keys-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const payload = {
  v: 1,
  id: '0123456789abcdef',
  label: '',
  iat: 0,
  exp: 2e9,
  maxBytes: null,
  maxFiles: null,
  maxClients: 1,
} as const;

describe('the invite key pair in the data folder', () => {
  it('is created on first need (invite.key 0600, invite.pub one base64url line), then read, never replaced', async () => {
    const first = await loadInviteKeys(dir);
    expect(statSync(join(dir, INVITE_KEY_FILE)).mode & 0o777).toBe(0o600);
    const pub = readFileSync(join(dir, INVITE_PUB_FILE), 'utf8');
    expect(pub).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(first.publicText).toBe(pub.trim());
    const key = readFileSync(join(dir, INVITE_KEY_FILE), 'utf8');
    const again = await loadInviteKeys(dir);
    expect(readFileSync(join(dir, INVITE_KEY_FILE), 'utf8')).toBe(key);
    // Signed with one load, verified with the other.
    const token = await signInvite(payload, first.privateKey!);
    expect((await verifyInvite(token, again.publicKey, 1)).id).toBe(payload.id);
    expect(readInviteUnverified(token).id).toBe(payload.id);
  });

  it('writes invite.pub again from invite.key; refuses a pair that does not match; invite.pub alone only verifies', async () => {
    const keys = await loadInviteKeys(dir);
    unlinkSync(join(dir, INVITE_PUB_FILE));
    expect((await loadInviteKeys(dir)).publicText).toBe(keys.publicText);
    const other = mkdtempSync(join(tmpdir(), 'sft-keys-'));
    try {
      await loadInviteKeys(other);
      writeFileSync(join(dir, INVITE_PUB_FILE), readFileSync(join(other, INVITE_PUB_FILE)));
      await expect(loadInviteKeys(dir)).rejects.toMatchObject({ code: 'SERVER_ERR_STORAGE' });
      unlinkSync(join(other, INVITE_KEY_FILE));
      const verifyOnly = await loadInviteKeys(other);
      expect(verifyOnly.privateKey).toBeUndefined();
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
