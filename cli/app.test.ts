/** cli/app.ts in-process: the sentences it adds to a failure, and usage errors (no network). */
import { describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { inviteNextStep } from './app';

const refused = (wireCode: number) =>
  new ClientError('CLIENT_ERR_V4_REFUSED', 'This invite is not valid (forged, expired or revoked).', {
    wireCode,
  });

describe('inviteNextStep', () => {
  const dir = '/home/me/send';

  it('names where a refused invite came from and says to pass a new one with --invite', () => {
    expect(
      inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity: null, invite: { saved: false } }),
    ).toBe(
      ' It was the invite given with --invite: ask the owner of the server for a new link and pass it with --invite LINK.',
    );
    expect(
      inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity: null, invite: { saved: true } }),
    ).toBe(
      ' It was the invite kept in /home/me/send/invite.link: ask the owner of the server for a new link and pass it with --invite LINK (it replaces the kept one).',
    );
  });

  it('an invite wanted and none given: pass the link with --invite', () => {
    expect(inviteNextStep(refused(V4ErrorCode.InviteRequired), { dir, identity: null, invite: null })).toBe(
      ' Pass the invite link the owner of the server gave you with --invite LINK.',
    );
  });

  it('adds nothing to other refusals, or where protocol-fallback.ts explains the slot', () => {
    const saved = { saved: true };
    expect(inviteNextStep(refused(V4ErrorCode.Busy), { dir, identity: null, invite: saved })).toBe('');
    expect(
      inviteNextStep(new ClientError('CLIENT_ERR_UNREACHABLE', 'x'), { dir, identity: null, invite: saved }),
    ).toBe('');
    const identity = { name: 'a', clientId: new Uint8Array(16), privateKeyPkcs8: new Uint8Array(1) };
    expect(inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity, invite: saved })).toBe('');
  });
});
