import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { knownV4, protocol3Beforehand, protocol3Fallback, withHint } from './protocol-fallback';

const refused = (wireCode: number) => new ClientError('CLIENT_ERR_V4_REFUSED', 'Refused.', { wireCode });
const both = { dir: '/d', invite: {}, identity: {} };

describe('when auto sends with protocol 3', () => {
  it('a server without 4: the reference packet shape, no hint for --protocol 4', () => {
    const f = protocol3Fallback(
      new ClientError('CLIENT_ERR_NOT_V4', 'The server speaks protocol version 3 only.'),
      {
        ...both,
        invite: null,
        identity: null,
      },
    );
    expect(f).toEqual({
      line: 'The server speaks protocol version 3 only. Using protocol 3 on a new connection.',
      ours: false,
    });
  });

  it('Error 5 under an invite with a v3 identity: our server, one line, a hint for --protocol 4', () => {
    const f = protocol3Fallback(refused(V4ErrorCode.InviteInvalid), both);
    expect(f?.ours).toBe(true);
    expect(f?.line).toBe(
      "This invite's client slot is held by your protocol 3 identity (/d/me.info); sending with protocol 3 on a new connection.",
    );
    const hinted = withHint(refused(V4ErrorCode.InviteInvalid), f!.forced!);
    expect(hinted.message).toMatch(/^Refused\. This invite's client slot is most likely held .*--protocol 3/);
    expect(hinted.details.wireCode).toBe(V4ErrorCode.InviteInvalid);
  });

  it('no fallback without an invite, without a v3 identity, for other refusals or errors', () => {
    expect(protocol3Fallback(refused(V4ErrorCode.InviteInvalid), { ...both, invite: null })).toBeNull();
    expect(protocol3Fallback(refused(V4ErrorCode.InviteInvalid), { ...both, identity: null })).toBeNull();
    expect(protocol3Fallback(refused(V4ErrorCode.InviteRequired), both)).toBeNull();
    // An Alert 5 in the clear: anyone on the path can write one (the server seals its own).
    const clear = new ClientError('CLIENT_ERR_V4_REFUSED', 'Refused.', {
      wireCode: V4ErrorCode.InviteInvalid,
      inTheClear: true,
    });
    expect(protocol3Fallback(clear, both)).toBeNull();
    expect(protocol3Fallback(refused(V4ErrorCode.RateLimited), both)).toBeNull();
    expect(protocol3Fallback(new ClientError('CLIENT_ERR_UNREACHABLE', 'No.'), both)).toBeNull();
    expect(protocol3Fallback(new Error('x'), both)).toBeNull();
  });
});

describe('when auto sends with protocol 3 without trying 4 (the page rule)', () => {
  const ctx = { dir: '/d', throughBridge: true, invite: {}, identity: {}, v4Name: null };
  it('a v3 identity under an invite through a bridge, its v4 key never welcomed: protocol 3 at once, said why', () => {
    expect(protocol3Beforehand(ctx)).toBe(
      "Sending with protocol 3 as your protocol 3 identity (/d/me.info): it holds this invite's client slot. " +
        'Use --protocol 4 for protocol 4 (it needs an invite with another client slot).',
    );
  });
  it('protocol 4 first without an invite, without a v3 identity, over direct TCP, or once v4.name was kept', () => {
    expect(protocol3Beforehand({ ...ctx, invite: null })).toBeNull();
    expect(protocol3Beforehand({ ...ctx, identity: null })).toBeNull();
    expect(protocol3Beforehand({ ...ctx, throughBridge: false })).toBeNull();
    expect(protocol3Beforehand({ ...ctx, v4Name: 'kim' })).toBeNull();
  });
});

describe('a server known to speak 4 (no fallback on a close or a 1607 from it)', () => {
  it('its key pinned in known_servers, or named by the invite link; else not known', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'sft-known-v4-'));
    try {
      expect(await knownV4(dir, 'h:1', null)).toBeNull();
      expect(await knownV4(dir, 'h:1', { source: 'the invite link' })).toBeNull();
      expect(await knownV4(dir, 'h:1', { fingerprint: 'SHA256:x', source: 'the invite link' })).toBe(
        'the invite link names its protocol 4 key',
      );
      await writeFile(path.join(dir, 'known_servers'), '# pins\nh:1 SHA256:abc\n');
      expect(await knownV4(dir, 'h:1', null)).toBe(
        `its protocol 4 key is pinned in ${path.join(dir, 'known_servers')}`,
      );
      expect(await knownV4(dir, 'h:2', null)).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
