import { describe, expect, it } from 'vitest';
import { generateInviteKeyPair, inviteLink, signInvite } from '../lib/invite';
import { CloseCode } from '../lib/protocol';
import { CliError } from './errors';
import { checkInvite, inviteRefusal } from './invite';

const now = 1_800_000_000;
const payload = {
  v: 1 as const,
  id: '0123456789abcdef',
  label: 'Dana',
  iat: now - 10,
  exp: now + 100,
  maxBytes: null,
  maxFiles: 3,
  maxClients: 1,
};

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe('CLI_ERR_USAGE');
    return (e as CliError).message;
  }
  throw new Error('no error');
}

describe('checkInvite', () => {
  it('takes a link or a bare token, keeps the text as given', async () => {
    const { privateKey } = await generateInviteKeyPair();
    const token = await signInvite(payload, privateKey);
    const link = inviteLink('https://files.example.org/', token);
    expect(checkInvite(` ${link} `, '--invite', now)).toMatchObject({ text: link, token, payload });
    expect(checkInvite(token, '--invite', now).token).toBe(token);
    expect(usage(() => checkInvite(token, '--invite', now + 100))).toMatch(
      /^--invite expired at .*; ask the owner of the server for a new link and pass it with --invite LINK\.$/,
    );
  });

  it('a damaged link is a usage error naming where it came from', () => {
    expect(usage(() => checkInvite('https://x.example/#other=1', '--invite'))).toMatch(
      /^--invite is not a usable invite/,
    );
    expect(usage(() => checkInvite('sfi1.nope', 'The invite kept in x'))).toMatch(
      /^The invite kept in x is not/,
    );
  });
});

describe('inviteRefusal', () => {
  it('a sentence for 4010-4013 only', () => {
    expect(inviteRefusal(CloseCode.InviteRequired, null)).toMatch(
      /You need an invite link.*\(close 4010\).*--invite LINK/,
    );
    expect(inviteRefusal(CloseCode.InviteExpired, '/d/invite.link')).toContain(
      '(the invite from /d/invite.link)',
    );
    expect(inviteRefusal(CloseCode.TargetUnreachable, null)).toBeNull();
    expect(inviteRefusal(null, null)).toBeNull();
  });
});
