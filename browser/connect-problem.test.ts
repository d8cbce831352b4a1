import { describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client/errors';
import { CloseCode } from '../lib/protocol';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { bridgeRefusal, connectProblem, notV4Answer } from './connect-problem';
import { BrowserError } from './errors';
import { ServerKeyChanged } from './v4-worker';

describe('connectProblem', () => {
  it('a changed v4 server key names both keys', () => {
    const change = { address: 'h:1', pinned: 'SHA256:a', offered: 'SHA256:b' };
    const r = connectProblem(new ServerKeyChanged(change), undefined);
    expect(r.p).toBe('server-key-changed');
    expect(r.serverKey).toEqual(change);
    expect(r.message).toContain('SHA256:a');
    expect(r.message).toContain('SHA256:b');
  });

  it('the link fingerprint kinds say where each key came from', () => {
    const link = new ServerKeyChanged({
      address: 'h:1',
      pinned: 'SHA256:L',
      offered: 'SHA256:S',
      kind: 'link-server',
    });
    expect(link.message).toBe(
      'The server at h:1 offered the key SHA256:S, but the invite link says its key is SHA256:L. Nothing was sent.',
    );
    const pin = new ServerKeyChanged({
      address: 'h:1',
      pinned: 'SHA256:P',
      offered: 'SHA256:L',
      kind: 'pin-link',
    });
    expect(pin.message).toBe(
      'The invite link says the server at h:1 has the key SHA256:L, but this browser pinned SHA256:P for it. Nothing was sent.',
    );
    expect(connectProblem(pin, undefined).serverKey?.kind).toBe('pin-link');
  });

  it('v4 refusals: invite errors are the invite problem, others a server error; the file server down is unreachable', () => {
    const refused = (wireCode: number) =>
      connectProblem(new ClientError('CLIENT_ERR_V4_REFUSED', 'x', { wireCode }), undefined).p;
    expect(refused(4)).toBe('invite');
    expect(refused(5)).toBe('invite');
    expect(refused(9)).toBe('server-error');
    // Too many attempts, busy, a server failure, too slow: said, and tried again on its own.
    const retried = (wireCode: number) =>
      connectProblem(new ClientError('CLIENT_ERR_V4_REFUSED', 'x', { wireCode }), undefined).retry;
    for (const code of [8, 9, 16, 17]) expect(retried(code)).toBe(true);
    // What trying again cannot change (a malformed frame, an unsupported suite, a failed handshake) waits for the person.
    for (const code of [1, 2, 3, 4, 5]) expect(retried(code)).toBeUndefined();
    // A v4 handshake closed before any byte (the server restarting) is retried; a v3 answer is not.
    expect(connectProblem(new ClientError('CLIENT_ERR_NOT_V4', 'closed'), undefined).p).toBe('unreachable');
    expect(
      connectProblem(new ClientError('CLIENT_ERR_NOT_V4', 'v3', { responseCode: 1607 }), undefined).p,
    ).toBe('server-error');
    const down = new BrowserError('BROWSER_ERR_BRIDGE_UNREACHABLE', 'down');
    expect(
      connectProblem(down, { closeInfo: { code: CloseCode.TargetUnreachable, reason: 'no target' } }).p,
    ).toBe('unreachable');
  });

  it("a v4 handshake the bridge closed with a refusal (a forged invite's 4012) is that refusal, not 'unreachable'", () => {
    const forged = { closeInfo: { code: CloseCode.InviteForged, reason: '' } };
    expect(bridgeRefusal(forged.closeInfo)).toBe(true);
    expect(bridgeRefusal({ code: CloseCode.OriginNotAllowed, reason: '' })).toBe(true);
    expect(bridgeRefusal({ code: CloseCode.TargetUnreachable, reason: '' })).toBe(false);
    expect(bridgeRefusal(undefined)).toBe(false);
    expect(connectProblem(new ClientError('CLIENT_ERR_NOT_V4', 'closed'), forged).p).toBe('invite');
  });
});

describe('connectProblem: the file server hanging up mid-handshake (a restart)', () => {
  const gone = {
    closeInfo: { code: CloseCode.TargetClosed, reason: 'The file server closed the connection.' },
  };
  it('is tried again by the page (unreachable), whatever the session made of it; a refusal it sent stays a refusal', () => {
    expect(connectProblem(new ClientError('CLIENT_ERR_PROTOCOL', 'cut mid-frame'), gone).p).toBe(
      'unreachable',
    );
    expect(connectProblem(new ClientError('CLIENT_ERR_V4_HANDSHAKE', 'x'), gone).p).toBe('unreachable');
    expect(connectProblem(new Error('send on a closed socket'), gone).p).toBe('unreachable');
    const refused = new ClientError('CLIENT_ERR_V4_REFUSED', 'Too many', {
      wireCode: V4ErrorCode.HandshakeFailed,
    });
    expect(connectProblem(refused, gone).p).toBe('server-error');
    // Without the bridge's 4006 the same errors wait for the person, as before.
    expect(connectProblem(new ClientError('CLIENT_ERR_PROTOCOL', 'x'), undefined).p).toBe('server-error');
    expect(connectProblem(new Error('x'), undefined).p).toBe('server-error');
  });
});

describe('notV4Answer: how a v4 ClientHello without a v4 answer ended', () => {
  const notV4 = (details = {}) => new ClientError('CLIENT_ERR_NOT_V4', 'x', details);
  const close = (code: number) => ({ code, reason: '' });
  it("a v3 answer, read directly or as the bridge's 4007 (a reply it could not read as v4), is an answer", () => {
    expect(notV4Answer(notV4({ responseCode: 1607 }), undefined)).toBe('answered');
    expect(notV4Answer(notV4(), close(CloseCode.TargetProtocolError))).toBe('answered');
  });
  it("the server hanging up without a byte (the bridge's 4006) is a close; anything else is neither", () => {
    expect(notV4Answer(notV4(), close(CloseCode.TargetClosed))).toBe('closed');
    expect(notV4Answer(notV4(), close(CloseCode.TargetUnreachable))).toBeUndefined();
    expect(notV4Answer(notV4(), close(CloseCode.InviteForged))).toBeUndefined();
    expect(notV4Answer(notV4(), undefined)).toBeUndefined();
    expect(
      notV4Answer(new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'x'), close(CloseCode.TargetClosed)),
    ).toBeUndefined();
  });
});
