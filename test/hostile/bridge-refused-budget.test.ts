/**
 * Memory pinned through refused WebSockets. A refused upgrade (here a foreign Origin, 4003; the
 * same for 4004 past the connection limits and for a bad invite) is completed and closed with
 * a close frame, and the bridge reads on until the client answers it or ws's 5 s close
 * timeout ends it, so that the answer ends it promptly. ws buffers a data message meanwhile as
 * on any WebSocket, up to --max-payload (16 MiB), but only relays were counted against the
 * budget for unfinished messages: a client that never answers the close frame and sends most
 * of a 16 MiB message held it for 5 s on every refused connection, 64 of them at a time (the
 * refusals in flight), from one address. Here 16 such connections from 127.0.0.1, each
 * sending 15 MiB of an unfinished 16 MiB message: before, the bridge held them all (RSS up by
 * about 240 MiB); now they count against the per-address budget (32 MiB) like a relay's, and
 * a connection past it is dropped. The bridge still serves a well-behaved client afterwards.
 */
import { expect, it } from 'vitest';
import { DEFAULT_MAX_REQUEST_PAYLOAD } from '../../lib/protocol';
import { MiB, sleep } from '../support/hostile';
import { expectStillServed, rawUpgrade, silentTargetBridge } from '../support/silent-bridge';

const CONNS = 16;
const SENT_MIB = 15;
// All 16 upgrade at once and are held: the pending-upgrade cap and the refusals one
// address may hold (bridge-refusal-slots.test.ts) are other tests' limits.
const { bridge } = silentTargetBridge(['--max-pending-per-ip', '64', '--max-refusing-per-ip', '64']);

it(`${CONNS} refused WebSockets from one address, ${SENT_MIB} MiB each of an unfinished 16 MiB message: held within the per-address budget`, async () => {
  await sleep(300);
  const before = bridge().rss();
  const socks = await Promise.all(
    Array.from({ length: CONNS }, () => rawUpgrade(bridge().port, { origin: 'https://evil.example' })),
  );
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, bridge().rss());
  }, 20);
  // One binary frame, FIN, masked (key 0), 64-bit length; then SENT_MIB MiB of it, never the rest.
  const head = Buffer.alloc(14);
  head[0] = 0x82;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(DEFAULT_MAX_REQUEST_PAYLOAD), 2);
  const body = Buffer.alloc(MiB, 0x41);
  let written = 0;
  await Promise.all(
    socks.map(async (s) => {
      s.write(head);
      for (let i = 0; i < SENT_MIB && !s.destroyed; i++) {
        if (!s.write(body))
          await new Promise<void>((r) => {
            s.once('drain', r);
            s.once('close', r);
          });
        if (!s.destroyed) written += 1;
      }
    }),
  );
  // Until the bridge has read what it will (the kernel's buffers), within its 5 s close timeout.
  await sleep(1_000);
  clearInterval(sampler);
  const dropped = socks.filter((s) => s.destroyed).length;
  for (const s of socks) s.destroy();
  console.log(
    `bridge RSS ${(before / MiB).toFixed(1)} -> peak ${(peak / MiB).toFixed(1)} MiB; ${written} MiB written, ${dropped} of ${CONNS} dropped`,
  );
  // The per-address budget is 32 MiB (two whole messages); allow the chunks in flight and
  // ws's copies as pinned-memory.test.ts does (80 MiB for the same budget). Before: about 240.
  expect(peak - before).toBeLessThan(80 * MiB);
  expect(dropped).toBeGreaterThanOrEqual(CONNS - 3);
  // Another client of the same address is served once the refused ones are gone.
  await expectStillServed(bridge());
}, 60_000);
