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
  it('uploads byte-identical over WebSocket', async () => {
    const path = join(work.path, 'via-bridge.bin');
    const bytes = randomBytes(2 * 1024 * 1024 + 11);
    writeFileSync(path, bytes);
    const t = await WsTransport.connect(bridge.url);
    const s = await V4ClientSession.open(t, {
      key: await newIdentity(),
      name: 'web',
      checkServerKey: () => {},
    });
    const r = await s.upload(fileSource(path), { hash: nodeSha256 });
    await s.close();
    expect(hex(r.sha256)).toBe(sha256(bytes));
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
      'a Chunk longer than one record',
      [
        encodePreamble(),
        new Uint8Array([...encodeFrameHeader(FrameType.Chunk, 262_161), ...new Uint8Array(262_161)]),
      ],
    ],
  ])('closes %s with 4001', async (_what, messages) => {
    expect(await closeCodeOf(messages)).toBe(CloseCode.MalformedFrame);
  });
});
