/**
 * A protocol v4 frame trickled a byte at a time, so that the connection is never silent for
 * the idle timeout. v3 has a deadline per request (the idle timeout + 1 s per 64 KiB it
 * declares, test/hostile/slow.test.ts); v4 had none: the idle timeout was reset by every
 * byte, and once past the handshake (the login grace no longer applies) a client held its
 * connection, and its slot, for as long as it liked, without sending one whole frame. With a
 * 2 s idle timeout, a 4,112-byte Sealed frame trickled one byte every 500 ms (34 minutes to
 * complete) was still open after 12 s; now it is closed a few seconds in, as v3's is.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FrameType, MAX_MESSAGE_SIZE, TAG_SIZE } from '../../lib/protocol/v4/constants';
import { encodeFrameHeader } from '../../lib/protocol/v4/frames';
import { type ServerProcess, sleep, startServerProcess } from '../support/hostile';
import { rawV4 } from '../support/raw-v4';
import { newIdentity } from '../support/v4-client';

const IDLE_S = 2;
let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess(['--idle-timeout', String(IDLE_S)]);
});
afterAll(async () => {
  await srv?.dispose();
});

it('after the handshake, a Sealed frame trickled one byte every 500 ms is closed long before it completes', async () => {
  const c = await rawV4(srv.port, await newIdentity());
  let closedAt: number | undefined;
  c.socket.once('close', () => {
    closedAt = Date.now();
  });
  const length = MAX_MESSAGE_SIZE + TAG_SIZE;
  const t0 = Date.now();
  c.socket.write(encodeFrameHeader(FrameType.Sealed, length));
  let sent = 0;
  // Bounded: 12 s at most (the frame would take 34 minutes).
  while (closedAt === undefined && Date.now() - t0 < 12_000 && sent < length) {
    await sleep(500);
    if (!c.socket.destroyed) c.socket.write(Buffer.of(0x41));
    sent++;
  }
  const after = closedAt === undefined ? undefined : closedAt - t0;
  console.log(
    `v4 frame trickled: ${sent} of ${length} bytes sent, closed after ${after ?? 'never (12 s)'} ms`,
  );
  c.socket.destroy();
  expect(after, 'closed by the server').toBeDefined();
  // The idle timeout, 4 s for the largest frame at 64 KiB/s, the sweep (idle / 4) and slack.
  expect(after!).toBeLessThan((IDLE_S + 4 + 2) * 1000);
}, 30_000);
