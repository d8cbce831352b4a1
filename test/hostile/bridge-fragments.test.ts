/**
 * Memory pinned by the fragments of unfinished messages. ws keeps each fragment's data as its
 * own Buffer until the message is whole, up to 16,384 of them per message, about 220 bytes
 * each for a one-byte fragment that is 7 bytes on the wire, while the budget for unfinished
 * messages counted the 7 bytes. Here 16 connections, each claiming its own address through
 * X-Forwarded-For under --trust-proxy (as in bridge-total-budget.test.ts), each send 16,000
 * one-byte fragments of a message they never finish, 1.7 MiB in all, against a total budget
 * of 8 MiB: before, all were held and the bridge's RSS rose by about 50 MiB; now each
 * fragment counts FRAGMENT_COST (256 bytes), counted from the frame headers before ws reads
 * the chunk, so most are closed with 4004 before ws buffers their fragments, and RSS stays
 * near the budget. Another client is served afterwards.
 */
import { expect, it } from 'vitest';
import { MiB, sleep } from '../support/hostile';
import { expectStillServed, rawUpgrade, silentTargetBridge } from '../support/silent-bridge';

const CONNS = 16;
const FRAGMENTS = 16_000;
const { bridge } = silentTargetBridge(['--trust-proxy', '--max-buffered', '8M', '--max-pending', '64']);

it(`${CONNS} addresses, ${FRAGMENTS} one-byte fragments each of an unfinished message: held within the total budget`, async () => {
  await sleep(300);
  const before = bridge().rss();
  const socks = await Promise.all(
    Array.from({ length: CONNS }, (_, i) =>
      rawUpgrade(bridge().port, { forwardedFor: `203.0.113.${i + 1}` }),
    ),
  );
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, bridge().rss());
  }, 20);
  // A binary frame without FIN, then continuations without FIN: one byte each, masked.
  const first = Buffer.from([0x02, 0x81, 1, 2, 3, 4, 0x41]);
  const next = Buffer.from([0x00, 0x81, 1, 2, 3, 4, 0x41]);
  const body = Buffer.concat([first, ...Array.from({ length: FRAGMENTS - 1 }, () => next)]);
  for (const s of socks) s.write(body);
  // Until the bridge has read it all (or stopped reading) and ended the refused ones (5 s close timeout).
  await sleep(7_000);
  clearInterval(sampler);
  const dropped = socks.filter((s) => s.destroyed).length;
  for (const s of socks) s.destroy();
  console.log(
    `bridge RSS ${(before / MiB).toFixed(1)} -> peak ${(peak / MiB).toFixed(1)} MiB; ${((body.length * CONNS) / MiB).toFixed(1)} MiB sent; ${dropped} of ${CONNS} dropped`,
  );
  // 8 MiB of budget is 32,768 fragments (about 7 MiB held); before: about 50 MiB, none dropped.
  expect(peak - before).toBeLessThan(24 * MiB);
  // Each connection's 16,000 fragments count 3.9 MiB: two fit, the rest are refused.
  expect(dropped).toBeGreaterThanOrEqual(CONNS - 3);
  await expectStillServed(bridge());
}, 60_000);
