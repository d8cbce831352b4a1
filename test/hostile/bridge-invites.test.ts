/**
 * Issue 15 at the bridge, with the real bridge process in front of a fake TCP server that
 * counts its connections and parses the PROXY v2 header: in invite mode no invite -> 4010,
 * malformed -> 4011, forged (another key) -> 4012, expired -> 4013, none of them reaching the
 * server; a valid one is relayed with the whole token in TLV 0xE0, and logged by its ID only.
 * In open mode no invite is fine but an offered bad one is still refused. Then a flood of
 * 2,000 forged handshakes from one address: cut by the per-address limits, a bounded number of
 * log lines, bounded memory, and another address is still served.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { clientSubprotocols, INVITE_SUBPROTOCOL_PREFIX, TOKEN_PREFIX } from '../../lib/invite';
import { CloseCode } from '../../lib/protocol';
import { getTlv, Pp2Type } from '../../platform/proxy-protocol';
import {
  type FakeTarget,
  ORIGIN,
  type SpawnedBridge,
  spawnBridge,
  startTarget,
  until,
} from '../bridge/helpers';
import { makeInviteKeys, mintInvite, type TestInviteKeys } from '../support/invites';
import { runPart } from '../support/processes';

let dir: string;
let keys: TestInviteKeys;
let otherKeys: TestInviteKeys;
let target: FakeTarget;
let invite: SpawnedBridge;
let open: SpawnedBridge;

/** One handshake offering `protocols`; resolves with the close code (1006: dropped unanswered). */
function handshake(
  url: string,
  protocols: string[],
  localAddress = '127.0.0.1',
): Promise<{ code: number; reason: string; opened: boolean; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, protocols, { origin: ORIGIN, localAddress, perMessageDeflate: false });
    let opened = false;
    ws.on('open', () => {
      opened = true;
    });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), opened, ws }));
  });
}

/** Opens with `protocols` and resolves once open (rejects on a close before). */
function opened(url: string, protocols: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols, { origin: ORIGIN, perMessageDeflate: false });
    ws.on('error', reject);
    // A refusal also opens first; wait a moment for a close frame before calling it relayed.
    ws.on('open', () => setTimeout(() => resolve(ws), 200));
    ws.on('close', (code) => reject(new Error(`closed ${code}`)));
  });
}

const offer = (token: string) => clientSubprotocols(token);
/** A bridge in invite mode in front of the counting target, with the server's public key. */
const inviteModeArgs = () => [
  '--target',
  `127.0.0.1:${target.port}`,
  '--access',
  'invite',
  '--invite-key',
  keys.pubFile,
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-bridge-invites-'));
  keys = await makeInviteKeys(dir);
  otherKeys = await makeInviteKeys(mkdtempSync(join(tmpdir(), 'sft-other-key-')));
  target = await startTarget(() => {});
  invite = await spawnBridge([...inviteModeArgs(), '--log-rate', '5']);
  open = await spawnBridge(['--target', `127.0.0.1:${target.port}`, '--invite-key', keys.pubFile]);
});
afterAll(async () => {
  await invite?.stop();
  await open?.stop();
  await target?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('bridge in invite mode', () => {
  it('refuses no invite 4010, malformed 4011, forged 4012, expired 4013, without a TCP connection', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = await mintInvite(otherKeys.privateKey);
    const expired = await mintInvite(keys.privateKey, { iat: now - 100, exp: now - 10 });
    const valid = await mintInvite(keys.privateKey);
    // Altered after signing: one signature character changed keeps the form, breaks the signature.
    const [head, body, sig] = valid.split('.') as [string, string, string];
    const altered = `${head}.${body}.${sig.slice(0, 10)}${sig[10] === 'A' ? 'B' : 'A'}${sig.slice(11)}`;
    const cases: [string, string[], number][] = [
      ['nothing offered', [], CloseCode.InviteRequired],
      ['sft only', ['sft'], CloseCode.InviteRequired],
      ['not a token', offer('hello'), CloseCode.InviteMalformed],
      ['bad base64', offer(`${TOKEN_PREFIX}abc.d`), CloseCode.InviteMalformed],
      ['longer than any token', offer(`${TOKEN_PREFIX}${'A'.repeat(3000)}.x`), CloseCode.InviteMalformed],
      ['two invites', [...offer(valid), `${INVITE_SUBPROTOCOL_PREFIX}${forged}`], CloseCode.InviteMalformed],
      ['another key', offer(forged), CloseCode.InviteForged],
      ['altered payload', offer(altered), CloseCode.InviteForged],
      ['expired', offer(expired), CloseCode.InviteExpired],
    ];
    for (const [what, protocols, code] of cases) {
      const r = await handshake(invite.url, protocols);
      expect({ what, code: r.code, opened: r.opened }).toEqual({ what, code, opened: true });
      expect(r.reason.length).toBeGreaterThan(10);
    }
    expect(target.sockets.length).toBe(0);
    const refusedLines = () =>
      invite.lines.filter((l) => l.event === 'connection' && Number(l.closeCode) >= 4010);
    await until(() => refusedLines().length === cases.length, 'a line per refusal');
    const refused = refusedLines();
    // Logged by the ID it claims, never the token.
    expect(refused.some((l) => l.inviteId !== undefined)).toBe(true);
    for (const t of [forged, expired, altered]) expect(invite.output()).not.toContain(t.split('.')[2]);
  });

  it('relays a valid invite with the whole token in TLV 0xE0 and logs its ID only', async () => {
    const token = await mintInvite(keys.privateKey);
    const before = target.sockets.length;
    const ws = await opened(invite.url, offer(token));
    expect(ws.protocol).toBe('sft');
    await until(() => target.proxyHeaders.length > before, 'the PROXY header at the target');
    const header = target.proxyHeaders[before];
    expect(header?.command).toBe('proxy');
    const tlv = getTlv(header!.tlvs, Pp2Type.SFT_INVITE);
    expect(new TextDecoder().decode(tlv)).toBe(token);
    ws.close(1000);
    await until(
      () => invite.lines.some((l) => l.event === 'connection' && l.closeCode === 1000),
      'the connection line',
    );
    const line = invite.lines.find((l) => l.event === 'connection' && l.closeCode === 1000);
    expect(line?.inviteId).toMatch(/^[0-9a-f]{16}$/);
    expect(invite.output()).not.toContain(token.split('.')[2]);
    expect(invite.output()).not.toContain(token.split('.')[1]);
  });
});

describe('bridge in open mode (the loopback default)', () => {
  it('relays without an invite (no TLV), refuses a bad one offered, forwards a good one', async () => {
    expect(open.event.access).toBe('open');
    let before = target.sockets.length;
    const plain = await opened(open.url, []);
    await until(() => target.proxyHeaders.length > before, 'the plain connection');
    expect(getTlv(target.proxyHeaders[before]!.tlvs, Pp2Type.SFT_INVITE)).toBeUndefined();
    plain.close();
    before = target.sockets.length;
    const forged = await mintInvite(otherKeys.privateKey);
    expect((await handshake(open.url, offer(forged))).code).toBe(CloseCode.InviteForged);
    expect((await handshake(open.url, offer('x'))).code).toBe(CloseCode.InviteMalformed);
    expect(target.sockets.length).toBe(before);
    const token = await mintInvite(keys.privateKey);
    const ws = await opened(open.url, offer(token));
    await until(() => target.proxyHeaders.length > before, 'the invited connection');
    expect(new TextDecoder().decode(getTlv(target.proxyHeaders[before]!.tlvs, Pp2Type.SFT_INVITE))).toBe(
      token,
    );
    ws.close();
  });
});

describe('bridge start errors', () => {
  it('invite mode without a key, an unreadable key, a key file that is not a key: exit 2 with a sentence', () => {
    const run = (args: string[]) => {
      try {
        runPart('bridge', ['--listen', '127.0.0.1:0', ...args]);
        return { status: 0, stderr: '' };
      } catch (e) {
        const err = e as { status: number; stderr: Buffer | string };
        return { status: err.status, stderr: String(err.stderr) };
      }
    };
    const noKey = run(['--access', 'invite']);
    expect(noKey.status).toBe(2);
    expect(noKey.stderr).toMatch(/--invite-key FILE/);
    const missing = run(['--access', 'invite', '--invite-key', join(dir, 'nope.pub')]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/cannot read its --invite-key file .*ENOENT/);
    writeFileSync(join(dir, 'garbage.pub'), 'not a key\n');
    const notKey = run(['--access', 'invite', '--invite-key', join(dir, 'garbage.pub')]);
    expect(notKey.status).toBe(2);
    expect(notKey.stderr).toMatch(/does not hold an invite public key/);
    // The default for a non-loopback listener is invite mode: without a key it will not start.
    const wide = run(['--listen', '0.0.0.0:0']);
    expect(wide.status).toBe(2);
    expect(wide.stderr).toMatch(/default when listening on 0\.0\.0\.0/);
  });
});

describe('a flood of forged invites from one address', () => {
  const FLOOD = 2_000;
  const PARALLEL = 32;

  it(`${FLOOD} handshakes, ${PARALLEL} at a time: cut by the per-address limits, bounded log and memory, others served`, async () => {
    const flooded = await spawnBridge(inviteModeArgs());
    try {
      const forged = await mintInvite(otherKeys.privateKey);
      const rssBefore = flooded.rss();
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, flooded.rss());
      }, 50);
      const socketsBefore = target.sockets.length;
      const codes = new Map<number, number>();
      const t0 = Date.now();
      let next = 0;
      const worker = async () => {
        while (next < FLOOD) {
          next += 1;
          const { code } = await handshake(flooded.url, offer(forged));
          codes.set(code, (codes.get(code) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      const seconds = (Date.now() - t0) / 1000;
      // Meanwhile and after, another address with a good invite is served.
      const good = await mintInvite(keys.privateKey);
      const ws = await new Promise<WebSocket>((resolve, reject) => {
        const w = new WebSocket(flooded.url, offer(good), { origin: ORIGIN, localAddress: '127.0.0.2' });
        w.on('error', reject);
        w.on('open', () => setTimeout(() => resolve(w), 200));
        w.on('close', (code) => reject(new Error(`closed ${code}`)));
      });
      ws.close(1000);
      clearInterval(sampler);
      expect(target.sockets.length).toBe(socketsBefore + 1);
      await until(
        () => flooded.lines.some((l) => l.event === 'log-suppressed'),
        'the suppressed count',
        15_000,
      );
      const lines = flooded.lines.length;
      const refusedLines = flooded.lines.filter(
        (l) => l.event === 'connection' && l.closeCode === 4012,
      ).length;
      const dropped = flooded.lines
        .filter((l) => l.event === 'log-suppressed')
        .reduce((n, l) => n + Number(l.dropped), 0);
      const summary = [...codes].map(([c, n]) => `${c}: ${n}`).join(', ');
      console.log(
        `bridge: ${FLOOD} forged-invite handshakes (${PARALLEL} at a time) in ${seconds.toFixed(1)} s -> ${summary}; ` +
          `${lines} log lines (${refusedLines} refusal lines, ${dropped} counted as suppressed); ` +
          `RSS ${(rssBefore / 2 ** 20).toFixed(1)} -> peak ${(rssPeak / 2 ** 20).toFixed(1)} MiB`,
      );
      // Every handshake refused: by its invite (4012), a per-address cap (4004), or dropped at
      // the pending-upgrade cap before it upgraded (1006). None reached the server.
      expect([...codes.keys()].every((c) => [4012, 4004, 1006].includes(c))).toBe(true);
      expect(codes.get(4012) ?? 0).toBeGreaterThan(0);
      // Default --log-rate 10: a burst of 50, then 10 a second.
      expect(refusedLines).toBeLessThanOrEqual(50 + 10 * Math.ceil(seconds + 1));
      expect(lines).toBeLessThan(200 + 10 * Math.ceil(seconds + 1));
      expect(rssPeak - rssBefore).toBeLessThan(64 * 2 ** 20);
      expect(flooded.output()).not.toContain(forged.split('.')[2]);
    } finally {
      await flooded.stop();
    }
  }, 120_000);
});
