import { describe, expect, it } from 'vitest';
import { failureSentence } from '../../app/components/upload-rules';

const v4 = (v4Code: number, serverReason?: string) => ({ protocol: 4 as const, v4Code, serverReason });

describe('what a refused v4 file says to its sender', () => {
  it('over quota: the server’s figures and a next step (who to ask depends on the invite)', () => {
    const reason = 'This sender allows 1.0 MiB in all; this file (1.9 MiB) would pass it.';
    const open = failureSentence('CLIENT_ERR_V4_REFUSED', false, false, v4(6, reason));
    expect(open).toContain(reason);
    expect(open).toMatch(/Ask whoever runs the server for more room, or send less\.$/);
    const invited = failureSentence('CLIENT_ERR_V4_REFUSED', false, true, v4(6, reason));
    expect(invited).toMatch(/Ask whoever invited you for more room/);
  });

  it('too large: the limit the server gave, then what to do; without a reason still a next step', () => {
    const s = failureSentence(
      'CLIENT_ERR_V4_REFUSED',
      false,
      false,
      v4(7, 'The server accepts files up to 20 MiB (20,971,520 bytes).'),
    );
    expect(s).toBe(
      'This file is larger than the server accepts. The server accepts files up to 20 MiB (20,971,520 bytes). Send a smaller file, or ask whoever runs the server to raise the limit.',
    );
    expect(failureSentence('CLIENT_ERR_V4_REFUSED', false, false, v4(7))).toBe(
      'This file is larger than the server accepts. Send a smaller file, or ask whoever runs the server to raise the limit.',
    );
  });

  it('every refusal of one file ends with something to do', () => {
    for (const code of [6, 7, 13, 14, 15, 16]) {
      expect(failureSentence('CLIENT_ERR_V4_REFUSED', false, false, v4(code))).toMatch(
        /(Send|send|Ask|ask|Rename|Try|tell)[^.]*\.$/,
      );
    }
  });
});

describe('what a file cut by the page itself says', () => {
  it('the server stopped answering (the page’s deadline): interrupted, said as such, sent again by itself', () => {
    expect(failureSentence('CLIENT_ERR_TIMEOUT', true, false, { protocol: 4 })).toBe(
      'The server stopped answering while this file was being sent, so the page closed the connection. It carries on from where it stopped once the connection is back.',
    );
    expect(failureSentence('CLIENT_ERR_TIMEOUT', true, false, { protocol: 3 })).toMatch(
      /^The server stopped answering .* It is sent again from the start once the connection is back\.$/,
    );
    expect(failureSentence('CLIENT_ERR_CONNECTION_CLOSED', true)).toMatch(/^The connection dropped/);
  });

  it('the bridge broke the protocol (an oversized message): not retried by itself, with a next step', () => {
    expect(failureSentence('CLIENT_ERR_PROTOCOL', false)).toBe(
      'The page closed the connection: what came back was not what a working server sends. Send it again; if it keeps failing, tell whoever runs the server.',
    );
  });
});
