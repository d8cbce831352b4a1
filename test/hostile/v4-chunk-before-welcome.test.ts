/**
 * A Chunk frame before Welcome is a frame the client may not send in that state, and the
 * spec has the receiver judge a header's type for its state before it buffers the body
 * (docs/PROTOCOL.md, "Frames"). The server's decoder took every client type in every state,
 * so a peer that never completed a handshake sent the preamble and a Chunk header (30 bytes)
 * and then most of a 262,160-byte body, which the server buffered and held until the login
 * grace (15 s). 64 such connections from four addresses (16 each, the startup cap per source),
 * half of them after a ClientHello: none closed within 3 s, server RSS 117-119 -> 150-152 MiB
 * (+32-33), held so until the login grace. Now the Chunk header is refused at once with
 * Alert 1 (MALFORMED), before or after the ClientHello, and the connection closes: 64 of 64
 * closed, RSS +13-17 MiB for a moment (the
 * rest of each body is still read off the socket until the close, into buffers that are
 * garbage at once; RSS is printed, not asserted, as V8 frees them when it collects).
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FrameType, RECORD_SIZE, TAG_SIZE, V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodeFrameHeader, encodePreamble } from '../../lib/protocol/v4/frames';
import { decodeAlert } from '../../lib/protocol/v4/messages';
import { ClientHandshake } from '../../lib/v4/handshake';
import { MiB, rssBytes, type ServerProcess, sleep, startServerProcess } from '../support/hostile';
import { rawV4 } from '../support/raw-v4';
import { newIdentity } from '../support/v4-client';

let srv: ServerProcess;
beforeAll(async () => {
  srv = await startServerProcess();
});
afterAll(async () => {
  await srv?.dispose();
});

const CONNECTIONS = 64;
/** All of a full Chunk's body but its last bytes: the frame never completes. */
const BODY_SENT = RECORD_SIZE + TAG_SIZE - 160;

interface Held {
  socket: Socket;
  /** The bytes the server sent, and whether it closed the connection. */
  got: Buffer[];
  closed: boolean;
}

async function holdChunk(i: number, afterHello: Uint8Array | null): Promise<Held> {
  const socket = connect({ host: '127.0.0.1', port: srv.port, localAddress: `127.0.0.${2 + (i % 4)}` });
  const held: Held = { socket, got: [], closed: false };
  socket.on('error', () => {});
  socket.on('data', (b: Buffer) => held.got.push(b));
  socket.on('close', () => {
    held.closed = true;
  });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  // The preamble alone, or the preamble and a ClientHello (what ClientHandshake.start() gives).
  const first = afterHello ?? encodePreamble();
  const bytes = Buffer.concat([
    first,
    encodeFrameHeader(FrameType.Chunk, RECORD_SIZE + TAG_SIZE),
    Buffer.alloc(BODY_SENT, 7),
  ]);
  await new Promise<void>((r) => socket.write(bytes, () => r()));
  return held;
}

/** The code of the first Alert among the bytes a connection got (after a ServerHello and ServerAuth, if any). */
function alertCode(got: Buffer[]): number | null {
  const all = Buffer.concat(got);
  for (let at = 0; at + 6 <= all.length; ) {
    const length = all.readUInt32LE(at + 2);
    if (all[at + 1] === FrameType.Alert) return decodeAlert(all.subarray(at + 6, at + 6 + length)).code;
    at += 6 + length;
  }
  return null;
}

it(`${CONNECTIONS} unauthenticated connections each send a Chunk header and most of its body, before or after their ClientHello: each gets Alert 1 at once, and the server holds none of it`, async () => {
  // One whole handshake first: the first ClientHello starts the record thread (its own RSS).
  const identity = await newIdentity();
  const warm = await rawV4(srv.port, identity);
  warm.socket.destroy();
  await sleep(500);
  const before = rssBytes(srv.pid);
  const helloes = await Promise.all(
    Array.from({ length: CONNECTIONS / 2 }, () =>
      new ClientHandshake({ identity, name: 'chunker', checkServerKey: () => {} }).start(),
    ),
  );
  const held = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => holdChunk(i, i % 2 === 0 ? null : helloes[i >> 1]!)),
  );
  // Well inside the login grace (15 s): before, every one of them was still open here.
  for (let i = 0; i < 30 && held.some((h) => !h.closed); i++) await sleep(100);
  const during = rssBytes(srv.pid);
  const closed = held.filter((h) => h.closed).length;
  const alerts = held.map((h) => alertCode(h.got));
  for (const h of held) h.socket.destroy();
  console.log(
    `server RSS: ${(before / MiB).toFixed(1)} MiB before, ${(during / MiB).toFixed(1)} MiB with ${CONNECTIONS} Chunk bodies sent; ${closed} of ${CONNECTIONS} closed by the server within 3 s`,
  );
  expect(closed).toBe(CONNECTIONS);
  expect(alerts.every((c) => c === V4ErrorCode.Malformed)).toBe(true);
});
