/**
 * X-Forwarded-For under --trust-proxy, from a client that is not the proxy. The bridge used to
 * believe the header from whoever connected, so a client that reached the bridge's port
 * directly (beside the proxy: --listen 0.0.0.0, a container network) chose a fresh address
 * per connection, and every per-source limit behind it (the bridge's per address, the file
 * server's per source: registrations, reconnects, the padding oracle's bucket) counted it as
 * a stranger each time. Now the header is read only from --trust-proxy-from addresses
 * (default loopback); from any other address the socket's own counts. Real processes: the
 * proxy is 127.0.0.1, the client beside it 127.0.0.5; the file server allows 3 registrations
 * a minute per source. The same for the cap on connections not yet upgraded (8 per address):
 * it was off altogether under --trust-proxy, so the client beside the proxy held the bridge's
 * whole --max-pending with silent sockets; now only the proxy's addresses are exempt.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode } from '../../lib/protocol';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { ORIGIN, type ServerProcess, sleep, startServerProcess } from '../support/hostile';

const PER_MINUTE = 3;
let srv: ServerProcess;
let bridge: SpawnedBridge;

beforeAll(async () => {
  srv = await startServerProcess(['--register-per-minute', String(PER_MINUTE)]);
  // The setting by its variable, so that a bridge without it still starts (and shows the hole).
  bridge = await spawnBridge(['--target', `127.0.0.1:${srv.port}`, '--trust-proxy', '--access', 'open'], {
    env: { SFT_BRIDGE_TRUST_PROXY_FROM: '127.0.0.1/32' },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await srv?.dispose();
});

/** A 1025 (register `name`), as a new client sends it. */
const register = (name: string) =>
  encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name });

/** One WebSocket from `localAddress` claiming `forwarded`: the code of the answer to a 1025. */
function registerVia(localAddress: string, forwarded: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(bridge.url, {
      perMessageDeflate: false,
      origin: ORIGIN,
      localAddress,
      headers: { 'X-Forwarded-For': forwarded },
    });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no answer in 10 s'));
    }, 10_000);
    ws.on('error', () => {});
    ws.once('open', () => ws.send(register(name)));
    ws.once('message', (m: Buffer) => {
      clearTimeout(timer);
      ws.terminate();
      resolve(m.readUInt16LE(1));
    });
    ws.once('close', () => {
      clearTimeout(timer);
      resolve(0);
    });
  });
}

async function codes(localAddress: string, prefix: string): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 2 * PER_MINUTE; i++) {
    out.push(await registerVia(localAddress, `${prefix}.${i + 1}`, `${prefix.replaceAll('.', '')}n${i}`));
  }
  return out;
}

it(`a client beside the proxy (127.0.0.5) claiming a new address each time: its own address counts, ${PER_MINUTE} registrations`, async () => {
  const got = await codes('127.0.0.5', '198.51.100');
  // Before: all six registered (1600), one source per claimed address.
  expect(got.filter((c) => c === 1600).length).toBe(PER_MINUTE);
  expect(got.slice(PER_MINUTE)).toEqual(Array(PER_MINUTE).fill(1601));
  const peers = srv.spawned.lines.map((l) => String(l.peer ?? ''));
  expect(peers.some((p) => p.startsWith('198.51.100.'))).toBe(false);
}, 60_000);

it('the proxy (127.0.0.1) still names its clients: each claimed address is its own source', async () => {
  const got = await codes('127.0.0.1', '203.0.113');
  expect(got).toEqual(Array(2 * PER_MINUTE).fill(1600));
}, 60_000);

it(`the proxy naming IPv6 clients of one /64: one source at the file server, ${PER_MINUTE} registrations; another /64 is served`, async () => {
  const got: number[] = [];
  for (let i = 0; i < 2 * PER_MINUTE; i++) {
    got.push(await registerVia('127.0.0.1', `2001:db8:1:2::${i + 1}`, `six${i}`));
  }
  expect(got.filter((c) => c === 1600).length).toBe(PER_MINUTE);
  expect(await registerVia('127.0.0.1', '2001:db8:1:3::1', 'sixother')).toBe(1600);
  const peers = srv.spawned.lines.map((l) => String(l.peer ?? ''));
  expect(peers.some((p) => p.includes('2001:db8:1:2::'))).toBe(true);
}, 60_000);

/** `n` silent TCP connections from `localAddress`; how many the bridge still holds after 500 ms. */
async function silentSockets(localAddress: string, n: number): Promise<number> {
  const socks: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port: bridge.port, localAddress });
    s.on('error', () => {});
    await new Promise<void>((r) => s.once('connect', () => r()).once('close', () => r()));
    socks.push(s);
  }
  await sleep(500);
  const held = socks.filter((s) => !s.destroyed && s.readyState === 'open').length;
  for (const s of socks) s.destroy();
  return held;
}

it('silent sockets before the upgrade: 8 held from the client beside the proxy (was: all 20), the proxy exempt', async () => {
  expect(await silentSockets('127.0.0.5', 20)).toBe(8);
  expect(await silentSockets('127.0.0.1', 20)).toBe(20);
}, 30_000);
