/**
 * --max-per-source against the attack it is for: one host holding every slot with logged-in
 * connections (past the pre-login tier, so only this cap and the total stand). Relayed
 * sources come from PROXY v2 headers (as the bridge sends them from loopback): addresses of one
 * IPv6 /64 count as one source, an IPv4 address and its IPv4-mapped spelling as one, and
 * another source is still served while one is at its cap.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeProxyHeader, tcpProxyHeader } from '../../platform/proxy-protocol';
import {
  type FrameConn,
  randomName,
  register,
  type ServerProcess,
  startServerProcess,
  tcpConn,
} from '../support/hostile';

const CAP = 4;
let srv: ServerProcess;
const open: FrameConn[] = [];

beforeAll(async () => {
  srv = await startServerProcess(['--max-per-source', String(CAP), '--register-per-minute', '1000']);
});
afterAll(async () => {
  for (const c of open) c.close();
  await srv?.dispose();
});

/** A relayed connection from `source`, registered and keyed (1600, 1602); false when refused. */
async function loggedIn(source: string): Promise<boolean> {
  const c = await tcpConn(srv.port);
  open.push(c);
  await c.sendFrame(
    encodeProxyHeader(
      tcpProxyHeader({ address: source, port: 4000 }, { address: '127.0.0.1', port: srv.port }),
    ),
  );
  try {
    await register(c, randomName('cap'));
    return true;
  } catch {
    return false;
  }
}

async function count(sources: string[]): Promise<number> {
  let ok = 0;
  for (const s of sources) if (await loggedIn(s)) ok++;
  return ok;
}

it(`one IPv6 /64 with ${2 * CAP} addresses: ${CAP} logged-in connections held, the rest refused; another /64 served`, async () => {
  const same = Array.from({ length: 2 * CAP }, (_, i) => `2001:db8:1:2::${(i + 1).toString(16)}`);
  expect(await count(same)).toBe(CAP);
  expect(await count(['2001:db8:1:3::1'])).toBe(1);
}, 30_000);

it(`an IPv4 source and its IPv4-mapped spelling share the cap of ${CAP}`, async () => {
  const mixed = Array.from({ length: 2 * CAP }, (_, i) => (i % 2 ? '::ffff:198.51.100.9' : '198.51.100.9'));
  expect(await count(mixed)).toBe(CAP);
  expect(await count(['198.51.100.10'])).toBe(1);
}, 30_000);
