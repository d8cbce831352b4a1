/**
 * A framing error after Welcome (a frame type the client may not send, a body length out of its
 * type's range) is answered with a sealed Error 1, not a clear Alert: the client has the session
 * key by then, and it takes a clear Alert after Welcome as a lost connection (anyone on the path
 * can write one), so an Alert would leave it reconnecting instead of saying what broke.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FrameType, MessageType, RECORD_SIZE, V4ErrorCode } from '../../lib/protocol/v4/constants';
import { encodeFrame } from '../../lib/protocol/v4/frames';
import { encodeAlert } from '../../lib/protocol/v4/messages';
import { NO_PEER_LIMITS, type ServerProcess, startServerProcess } from '../support/hostile';
import { rawV4 } from '../support/raw-v4';
import { newIdentity } from '../support/v4-client';

let srv: ServerProcess;
beforeAll(async () => {
  srv = await startServerProcess([...NO_PEER_LIMITS]);
});
afterAll(async () => {
  await srv?.dispose();
});

const header = (type: number, length: number) => {
  const h = new Uint8Array(6);
  h[0] = 4;
  h[1] = type;
  new DataView(h.buffer).setUint32(2, length, true);
  return h;
};

it.each([
  ['a frame type the client may not send (ServerHello)', header(FrameType.ServerHello, 34)],
  ['a Sealed frame longer than its range', header(FrameType.Sealed, 1 << 30)],
])('%s after Welcome: a sealed Error 1, then the close', async (_, bad) => {
  const c = await rawV4(srv.port, await newIdentity());
  await c.write(bad);
  const answer = await c.next();
  expect(answer).toMatchObject({ type: MessageType.Error, code: V4ErrorCode.Malformed, fatal: true });
  expect(c.frames.every((f) => f.type !== FrameType.Alert)).toBe(true);
  expect(await c.next()).toBeNull();
});

/**
 * An Alert is never answered (docs/PROTOCOL.md, "Alert"), before Welcome or after it: the
 * server closes and logs `v4-peer-alert`. After Welcome it answered with a sealed Error 1
 * ("Only Sealed frames and Chunks now.") and logged the client's Alert as its own refusal
 * (`v4-refused`), so a client that gave up (a Sealed frame of ours that did not verify) got a
 * message it could no longer read. An upload open at the time is kept for a resume, as after
 * any lost connection.
 */
it("a client's Alert after Welcome, with an upload open: no answer, the close, logged as the client's; the upload kept", async () => {
  const me = await newIdentity();
  const c = await rawV4(srv.port, me);
  const uploadId = randomBytes(16);
  const start = {
    type: MessageType.UploadStart,
    uploadId,
    resume: false,
    fileKey: randomBytes(32),
    size: 3 * RECORD_SIZE,
    recordSize: RECORD_SIZE,
    name: 'given-up.bin',
  } as const;
  await c.write(await c.session.seal(start));
  expect(await c.next()).toMatchObject({ type: MessageType.UploadReady, nextRecord: 0 });
  // This connection's lines (the cases above have refusals of their own); read before the close.
  const peer = `127.0.0.1:${c.socket.localPort}`;
  const reason = 'a server frame did not verify';
  await c.write(
    encodeFrame(FrameType.Alert, encodeAlert({ code: V4ErrorCode.Malformed, fatal: true, reason })),
  );
  expect(await c.next()).toBeNull();
  const mine = () => srv.spawned.lines.filter((l) => l.peer === peer);
  await expect
    .poll(() => mine().some((l) => l.event === 'v4-peer-alert' && l.code === V4ErrorCode.Malformed))
    .toBe(true);
  await expect
    .poll(() => mine().some((l) => l.event === 'v4-upload-kept' && l.file === 'given-up.bin'))
    .toBe(true);
  expect(mine().some((l) => l.event === 'v4-refused')).toBe(false);
  // Kept: its resume is answered (from record 0, as none was sent), not Error 11.
  const again = await rawV4(srv.port, me);
  await again.write(await again.session.seal({ ...start, resume: true }));
  expect(await again.next()).toMatchObject({ type: MessageType.UploadReady, nextRecord: 0 });
  again.socket.destroy();
});
