/**
 * Memory pinned at the bridge by the number of chunks of an unfinished message, not its bytes.
 * ws keeps each chunk read off the socket as its own Buffer until the frame is whole (up to
 * 262,144 per connection), and each costs about 1 KiB however small it is, but the budget for
 * unfinished messages (bridge/message-budget.ts) counted bytes. A client that sends the header
 * of a 16 MiB message and then one byte per TCP segment (Nagle off, each write awaited) makes
 * the bridge hold a chunk per byte: 8 such connections from 127.0.0.1 for 12 s took its RSS
 * from 84 to 383 MiB, all 8 still open, while 3.7 MiB were counted against the address's 32
 * MiB. Now a chunk counts at least MIN_CHUNK_COST (1 KiB): the same 8 are closed past the
 * budget (4004, then dropped at the close timeout as they never answer) and RSS rose by 19 MiB.
 * Another client of the address is served afterwards.
 */
import { expect, it } from 'vitest';
import { DEFAULT_MAX_REQUEST_PAYLOAD } from '../../lib/protocol';
import { MiB, sleep } from '../support/hostile';
import { expectStillServed, rawUpgrade, silentTargetBridge } from '../support/silent-bridge';

const CONNS = 8;
const TRICKLE_MS = 12_000;
// All 8 upgrade at once: the pending-upgrade cap is another test's limit.
const { bridge } = silentTargetBridge(['--max-pending-per-ip', '64']);

it(`${CONNS} connections from one address trickle an unfinished message one byte per TCP segment: closed past the budget, RSS bounded`, async () => {
  await sleep(300);
  const before = bridge().rss();
  const socks = await Promise.all(
    Array.from({ length: CONNS }, () => rawUpgrade(bridge().port, { noDelay: true })),
  );
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, bridge().rss());
  }, 50);
  // One binary frame, FIN, masked (key 0), 64-bit length; its payload never completes.
  const head = Buffer.alloc(14);
  head[0] = 0x82;
  head[1] = 0x80 | 127;
  head.writeBigUInt64BE(BigInt(DEFAULT_MAX_REQUEST_PAYLOAD), 2);
  for (const s of socks) s.write(head);
  const one = Buffer.from([0x41]);
  let writes = 0;
  const deadline = Date.now() + TRICKLE_MS;
  // One byte per write, each awaited: a segment each, as the bridge reads them.
  await Promise.all(
    socks.map(async (s) => {
      while (Date.now() < deadline && !s.destroyed) {
        await new Promise<void>((r) => s.write(one, () => r()));
        writes += 1;
      }
    }),
  );
  await sleep(1_000);
  clearInterval(sampler);
  const dropped = socks.filter((s) => s.destroyed).length;
  for (const s of socks) s.destroy();
  console.log(
    `bridge RSS ${(before / MiB).toFixed(1)} -> peak ${(peak / MiB).toFixed(1)} MiB; ${writes} one-byte writes, ${dropped} of ${CONNS} dropped`,
  );
  // 32 MiB of budget is 32,768 chunks of 1 KiB (about 36 MiB held), plus what is in flight:
  // 19 MiB alone, 48 MiB with other spawned tests beside it. Before: about 300 MiB, none dropped.
  expect(peak - before).toBeLessThan(64 * MiB);
  expect(dropped).toBe(CONNS);
  // Another client of the same address is served once they are gone.
  await expectStillServed(bridge());
}, 60_000);
