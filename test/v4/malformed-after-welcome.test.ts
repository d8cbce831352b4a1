/**
 * A framing error after Welcome (a frame type the client may not send, a body length out of its
 * type's range) is answered with a sealed Error 1, not a clear Alert: the client has the session
 * key by then, and it takes a clear Alert after Welcome as a lost connection (anyone on the path
 * can write one), so an Alert would leave it reconnecting instead of saying what broke.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FrameType, MessageType, V4ErrorCode } from '../../lib/protocol/v4/constants';
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
