/**
 * Protocol v4 through the real bridge in front of the real server: a v4 session over
 * WebSocket stores a file byte-identical (the bridge only checks frame headers), and the
 * server holds its rules for relayed v4 clients: the invite the bridge passes on (TLV 0xE0)
 * binds the key; without one, or with a revoked one, the server refuses (Error 4, 5) even
 * behind a bridge in open mode; a bridge in invite mode refuses a missing invite itself
 * (4010). A message that is not exactly one v4 frame the browser may send closes with 4001.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_V4_FRAMES_PER_MESSAGE } from '../../bridge/v4-frame-check';
import { WsTransport } from '../../cli/ws-transport';
import { CHUNKS_PER_SEND, V4ClientSession } from '../../lib/client/v4-session';
import { CloseCode } from '../../lib/protocol';
import { FrameType, RECORD_SIZE, TAG_SIZE, V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodeFrameHeader, encodePreamble } from '../../lib/protocol/v4/frames';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { hex, type ServerProcess, serverLog, sha256, startServerProcess } from '../support/hostile';
import { makeInvite, ownerCommand } from '../support/invite-helpers';
import { tempDir } from '../support/server-helpers';
import { queryDb } from '../support/server-state';
import { fileSource, newIdentity, nodeSha256, refusedCode } from '../support/v4-client';

let srv: ServerProcess;
/** In invite mode, with the server's invite.pub. */
let bridge: SpawnedBridge;
/** In open mode: the server alone judges. */
let openBridge: SpawnedBridge;
let work: { path: string; remove(): void };

beforeAll(async () => {
  work = tempDir('sft-v4b-');
  srv = await startServerProcess(['--access', 'invite']);
  const target = ['--target', `127.0.0.1:${srv.port}`];
  bridge = await spawnBridge([...target, '--access', 'invite', '--invite-key', join(srv.data, 'invite.pub')]);
  openBridge = await spawnBridge([...target, '--access', 'open']);
});

afterAll(async () => {
  await bridge?.stop();
  await openBridge?.stop();
  await srv?.dispose();
  work?.remove();
});

async function openThrough(url: string, invite?: string, key?: Awaited<ReturnType<typeof newIdentity>>) {
  const t = await WsTransport.connect(url, invite !== undefined ? { invite } : {});
  return V4ClientSession.open(t, {
    key: key ?? (await newIdentity()),
    name: 'web',
    checkServerKey: () => {},
  });
}

function closeCodeOf(messages: Uint8Array[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(openBridge.url);
    ws.on('open', () => {
      for (const m of messages) ws.send(m);
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

describe('protocol v4 through the bridge', () => {
  it('stores a file byte-identical with an invite, the key bound to it; the server logs the relay', async () => {
    const inv = makeInvite(srv.data);
    const key = await newIdentity();
    const s = await openThrough(bridge.url, inv.token, key);
    expect(s.registered).toBe(true);
    const bytes = randomBytes(3 * 1024 * 1024 + 5);
    const path = join(work.path, 'relayed.bin');
    writeFileSync(path, bytes);
    // 13 records: the session sends them four to a message, which the bridge must take.
    expect(CHUNKS_PER_SEND).toBeLessThanOrEqual(MAX_V4_FRAMES_PER_MESSAGE);
    const r = await s.upload(fileSource(path), { hash: nodeSha256 });
    await s.close();
    expect(hex(r.sha256)).toBe(sha256(bytes));
    const [row] = queryDb<{ InviteID: string; Sha256: string }>(
      srv.data,
      `SELECT c.InviteID, f.Sha256 FROM files f JOIN clients c ON c.ID = f.ID WHERE f.FileName = 'relayed.bin'`,
    );
    expect(row).toEqual({ InviteID: inv.id, Sha256: sha256(bytes) });
    const done = serverLog(srv).find((l) => l.event === 'v4-upload-done' && l.file === 'relayed.bin')!;
    expect(done).toMatchObject({
      protocol: 4,
      via: '127.0.0.1',
      peer: expect.stringMatching(/^127\.0\.0\.1:/),
    });
  });

  it('a bridge in invite mode refuses a v4 handshake without an invite (4010)', async () => {
    const t = await WsTransport.connect(bridge.url);
    await expect(
      V4ClientSession.open(t, { key: await newIdentity(), name: 'web', checkServerKey: () => {} }),
    ).rejects.toBeTruthy();
    await t.whenClosed();
    expect(t.closeCode).toBe(CloseCode.InviteRequired);
  });

  it('behind a bridge in open mode the server refuses a new key without an invite (4) and with a revoked one (5)', async () => {
    expect(await refusedCode(openThrough(openBridge.url))).toBe(V4ErrorCode.InviteRequired);
    const inv = makeInvite(srv.data, ['--max-clients', '3']);
    const key = await newIdentity();
    await (await openThrough(openBridge.url, inv.token, key)).close();
    ownerCommand(srv.data, ['invite', 'revoke', inv.id]);
    // The bridge cannot know of a revocation: the server refuses the bound key and a new one.
    expect(await refusedCode(openThrough(openBridge.url, undefined, key))).toBe(V4ErrorCode.InviteInvalid);
    expect(await refusedCode(openThrough(openBridge.url, inv.token))).toBe(V4ErrorCode.InviteInvalid);
  });

  it.each([
    [
      'two frames in one message',
      [
        encodePreamble(),
        new Uint8Array([...encodeFrameHeader(FrameType.ClientHello, 34), ...new Uint8Array(34), 4]),
      ],
    ],
    [
      'a frame split over two messages',
      [encodePreamble(), encodeFrameHeader(FrameType.ClientHello, 34), new Uint8Array(34)],
    ],
    [
      'a frame type only the server sends',
      [
        encodePreamble(),
        new Uint8Array([...encodeFrameHeader(FrameType.ServerHello, 34), ...new Uint8Array(34)]),
      ],
    ],
    [
      'a second ClientHello',
      [
        encodePreamble(),
        new Uint8Array([...encodeFrameHeader(FrameType.ClientHello, 34), ...new Uint8Array(34)]),
        new Uint8Array([...encodeFrameHeader(FrameType.ClientHello, 34), ...new Uint8Array(34)]),
      ],
    ],
    [
      'a Sealed frame before the ClientHello',
      [encodePreamble(), new Uint8Array([...encodeFrameHeader(FrameType.Sealed, 17), ...new Uint8Array(17)])],
    ],
    [
      'a Chunk longer than one record',
      [encodePreamble(), new Uint8Array([...encodeFrameHeader(FrameType.Chunk, RECORD_SIZE + TAG_SIZE + 1)])],
    ],
  ])('closes %s with 4001', async (_what, messages) => {
    expect(await closeCodeOf(messages)).toBe(CloseCode.MalformedFrame);
  });
});
