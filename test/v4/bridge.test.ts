/**
 * Protocol v4 through the real bridge: a v4 session over WebSocket stores a file
 * byte-identical (the bridge only checks frame headers), and a message that is not exactly
 * one v4 frame the browser may send closes with 4001 before anything reaches the server.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WsTransport } from '../../cli/ws-transport';
import { V4ClientSession } from '../../lib/client/v4-session';
import { CloseCode } from '../../lib/protocol';
import { FrameType } from '../../lib/protocol/v4/constants';
import { encodeFrameHeader, encodePreamble } from '../../lib/protocol/v4/frames';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { hex, type ServerProcess, sha256, startServerProcess } from '../support/hostile';
import { tempDir } from '../support/server-helpers';
import { fileSource, newIdentity, nodeSha256 } from '../support/v4-client';

let srv: ServerProcess;
let bridge: SpawnedBridge;
let work: { path: string; remove(): void };

beforeAll(async () => {
  work = tempDir('sft-v4b-');
  srv = await startServerProcess();
  bridge = await spawnBridge(['--target', `127.0.0.1:${srv.port}`]);
});

afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
  work?.remove();
});

function closeCodeOf(messages: Uint8Array[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(bridge.url);
    ws.on('open', () => {
      for (const m of messages) ws.send(m);
    });
    ws.on('close', (code) => resolve(code));
    ws.on('error', reject);
  });
}

describe('protocol v4 through the bridge', () => {
  it('is answered as a version 3 server would (1607, close) by the server, which serves v4 to direct clients only for now', async () => {
    // v4 checks no invites or quotas yet (issue 11): through the bridge the client falls back to v3.
    const t = await WsTransport.connect(bridge.url);
    await expect(
      V4ClientSession.open(t, { key: await newIdentity(), name: 'web', checkServerKey: () => {} }),
    ).rejects.toMatchObject({ code: 'CLIENT_ERR_NOT_V4' });
    t.close();
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
    // (A Chunk longer than one record was here: the real server now answers a relayed preamble
    // with 1607 and closes, so whether 4001 or 4006 comes first is a race. The frame rule is
    // unit-tested in lib/protocol/v4.)
  ])('closes %s with 4001', async (_what, messages) => {
    expect(await closeCodeOf(messages)).toBe(CloseCode.MalformedFrame);
  });
});
