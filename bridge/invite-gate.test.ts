import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../lib/protocol';
import { makeInviteKeys, mintInvite } from '../test/support/invites';
import { BridgeError } from './errors';
import { InviteGate, loadInvitePublicKey } from './invite-gate';

const dir = mkdtempSync(join(tmpdir(), 'sft-gate-'));

describe('InviteGate', () => {
  it('invite mode: none 4010, malformed 4011, forged 4012, expired 4013, valid passes with its ID', async () => {
    const keys = await makeInviteKeys(dir);
    const other = await makeInviteKeys(mkdtempSync(join(tmpdir(), 'sft-gate-other-')));
    const gate = new InviteGate('invite', await loadInvitePublicKey(keys.pubFile));
    const now = Math.floor(Date.now() / 1000);
    const valid = await mintInvite(keys.privateKey, { id: '00000000000000aa' });
    const check = (token: string) => gate.check({ kind: 'token', token });
    expect(await gate.check({ kind: 'none' })).toEqual({ ok: false, code: CloseCode.InviteRequired });
    expect(await gate.check({ kind: 'malformed' })).toEqual({ ok: false, code: CloseCode.InviteMalformed });
    expect(await check('sfi1.x')).toMatchObject({ ok: false, code: CloseCode.InviteMalformed });
    expect(await check(await mintInvite(other.privateKey, { id: '00000000000000bb' }))).toEqual({
      ok: false,
      code: CloseCode.InviteForged,
      inviteId: '00000000000000bb',
    });
    expect(await check(await mintInvite(keys.privateKey, { iat: now - 9, exp: now - 1 }))).toMatchObject({
      ok: false,
      code: CloseCode.InviteExpired,
    });
    expect(await check(valid)).toEqual({ ok: true, token: valid, inviteId: '00000000000000aa' });
  });

  it('open mode: none passes; without a key an offered token is checked for form and expiry only', async () => {
    const keys = await makeInviteKeys(mkdtempSync(join(tmpdir(), 'sft-gate-open-')));
    const gate = new InviteGate('open', undefined);
    expect(await gate.check({ kind: 'none' })).toEqual({ ok: true });
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintInvite(keys.privateKey, { iat: now - 9, exp: now - 1 });
    expect(await gate.check({ kind: 'token', token: expired })).toMatchObject({
      code: CloseCode.InviteExpired,
    });
    expect(await gate.check({ kind: 'token', token: 'nope' })).toMatchObject({
      code: CloseCode.InviteMalformed,
    });
    expect(() => new InviteGate('invite', undefined)).toThrow(BridgeError);
  });

  it('loadInvitePublicKey: BRIDGE_ERR_INVITE_KEY for a missing file or one without a key', async () => {
    await expect(loadInvitePublicKey(join(dir, 'none.pub'))).rejects.toMatchObject({
      code: 'BRIDGE_ERR_INVITE_KEY',
    });
    writeFileSync(join(dir, 'bad.pub'), 'AAAA\n');
    await expect(loadInvitePublicKey(join(dir, 'bad.pub'))).rejects.toMatchObject({
      code: 'BRIDGE_ERR_INVITE_KEY',
    });
  });
});
