import { describe, expect, it } from 'vitest';
import { clientSubprotocols, INVITE_SUBPROTOCOL_PREFIX, offeredInvite, SFT_SUBPROTOCOL } from './subprotocol';
import { MAX_TOKEN_LENGTH } from './token';

describe('invite subprotocols', () => {
  it('a client offers sft, and sft-invite.<token> with a token', () => {
    expect(clientSubprotocols()).toEqual([SFT_SUBPROTOCOL]);
    expect(clientSubprotocols('sfi1.a.b')).toEqual(['sft', 'sft-invite.sfi1.a.b']);
  });

  it('the bridge reads none, one token, or malformed (two, or too long)', () => {
    expect(offeredInvite([])).toEqual({ kind: 'none' });
    expect(offeredInvite(['sft', 'other'])).toEqual({ kind: 'none' });
    expect(offeredInvite(new Set(clientSubprotocols('sfi1.a.b')))).toEqual({
      kind: 'token',
      token: 'sfi1.a.b',
    });
    expect(offeredInvite(['sft-invite.x', 'sft-invite.y'])).toEqual({ kind: 'malformed' });
    const long = INVITE_SUBPROTOCOL_PREFIX + 'a'.repeat(MAX_TOKEN_LENGTH + 1);
    expect(offeredInvite([long])).toEqual({ kind: 'malformed' });
    expect(offeredInvite([INVITE_SUBPROTOCOL_PREFIX + 'a'.repeat(MAX_TOKEN_LENGTH)]).kind).toBe('token');
  });
});
