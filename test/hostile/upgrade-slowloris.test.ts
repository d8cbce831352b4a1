/**
 * Issue 14, item 11: a slowloris on the HTTP upgrade (an HTTP request trickled a header line
 * at a time, never finished) against the real bridge process, in front of the real server.
 * Connections not yet upgraded are capped per source address and in total, and each is
 * dropped at the handshake timeout whatever it keeps sending, so a legitimate WebSocket from
 * another address still gets through. Sources are 127.0.0.x (the client socket's localAddress).
 */
import { readdirSync, readlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import {
  randomName,
  register,
  type ServerProcess,
  sleep,
  startServerProcess,
  until,
  wsConn,
} from '../support/hostile';

const PER_SOURCE = 8;
const TOTAL = 24;
const TIMEOUT_S = 6;
/** Slowloris sockets stop trickling after this long whatever happens (bounded test). */
const TRICKLE_MAX_MS = 20_000;

let srv: ServerProcess;
let bridge: SpawnedBridge;

beforeAll(async () => {
  srv = await startServerProcess();
  bridge = await spawnBridge([
    '--target',
    `127.0.0.1:${srv.port}`,
    '--max-pending-per-ip',
    String(PER_SOURCE),
    '--max-pending',
    String(TOTAL),
    '--handshake-timeout',
    String(TIMEOUT_S),
  ]);
});

afterAll(async () => {
  for (const s of all) s.socket.destroy();
  await bridge?.stop();
  await srv?.dispose();
});

interface Loris {
  socket: Socket;
  from: string;
  openedAt: number;
  /** ms from connect to the bridge closing it; undefined while open. */
  lifetimeMs?: number;
}

const all: Loris[] = [];

/** One slowloris socket from `from`: a request line, then a header line every 300 ms, never the blank line. */
function loris(from: string): Promise<Loris> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: bridge.port, localAddress: from });
    const l: Loris = { socket, from, openedAt: Date.now() };
    all.push(l);
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => {});
    socket.once('connect', () => {
      l.openedAt = Date.now();
      socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      timer = setInterval(() => {
        if (Date.now() - l.openedAt > TRICKLE_MAX_MS) socket.destroy();
        else socket.write('X-Slow: 1\r\n');
      }, 300);
      resolve(l);
    });
    socket.once('close', () => {
      clearInterval(timer);
      l.lifetimeMs = Date.now() - l.openedAt;
      resolve(l);
    });
  });
}

const openFrom = (from: string) => all.filter((l) => l.from === from && l.lifetimeMs === undefined).length;
const openTotal = () => all.filter((l) => l.lifetimeMs === undefined).length;

/** Sockets the bridge process holds (TCP listening, accepted and to the server). */
function bridgeSockets(): number {
  const dir = `/proc/${bridge.pid}/fd`;
  let n = 0;
  for (const fd of readdirSync(dir)) {
    try {
      if (readlinkSync(`${dir}/${fd}`).startsWith('socket:')) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
const figures = () => `bridge RSS ${mib(bridge.rss())}, ${bridgeSockets()} open sockets`;

/** A legitimate browser-like client from `from`: WebSocket through the bridge, 1025 + 1026. */
async function legitimate(from: string): Promise<void> {
  const conn = await wsConn(bridge.url, { localAddress: from });
  try {
    await register(conn, randomName('legit'));
  } finally {
    conn.close();
  }
}

/** Opens `n` slowloris sockets from `from`, then waits until the bridge has dropped what it refuses. */
async function flood(from: string, n: number, expectOpen: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => loris(from)));
  await until(() => openFrom(from) <= expectOpen, `the bridge to drop the excess from ${from}`, 5_000);
  await sleep(300); // nothing else closes meanwhile
}

describe('slowloris on the WebSocket upgrade', () => {
  it(`40 sockets each from 127.0.0.1 and 127.0.0.2: ${PER_SOURCE} per source stay, the rest are dropped at once; a WebSocket from 127.0.0.3 registers`, async () => {
    const baseline = figures();
    await flood('127.0.0.1', 40, PER_SOURCE);
    expect(openFrom('127.0.0.1')).toBe(PER_SOURCE);
    await flood('127.0.0.2', 40, PER_SOURCE);
    expect(openFrom('127.0.0.2')).toBe(PER_SOURCE);
    // The refused ones were dropped at once, long before the timeout.
    const refused = all.filter((l) => l.lifetimeMs !== undefined);
    expect(refused).toHaveLength(64);
    expect(Math.max(...refused.map((l) => l.lifetimeMs!))).toBeLessThan(TIMEOUT_S * 1000 - 500);

    await legitimate('127.0.0.3');
    console.log(
      `per source: 80 slowloris sockets -> ${openTotal()} held; before ${baseline}; under attack ${figures()}`,
    );
  });

  it(`the total (${TOTAL}): 8 more each from 127.0.0.4 and 127.0.0.5 -> only ${TOTAL - 2 * PER_SOURCE} of them held, and a newcomer is refused while it is full`, async () => {
    await Promise.all([
      ...Array.from({ length: PER_SOURCE }, () => loris('127.0.0.4')),
      ...Array.from({ length: PER_SOURCE }, () => loris('127.0.0.5')),
    ]);
    await until(() => openTotal() <= TOTAL, 'the bridge to drop connections past the total', 5_000);
    await sleep(300);
    expect(openTotal()).toBe(TOTAL);
    // Full: the cap holds for everyone (like sshd's MaxStartups); the timeout below frees it.
    await expect(legitimate('127.0.0.3')).rejects.toThrow();
    console.log(`total: ${openTotal()} held; ${figures()}`);
  });

  it(`the handshake timeout (${TIMEOUT_S} s) drops every held socket although it keeps sending; then 127.0.0.3 registers again`, async () => {
    await until(() => openTotal() === 0, 'every slowloris socket to be dropped', (TIMEOUT_S + 5) * 1000);
    const held = all.filter((l) => l.lifetimeMs! >= TIMEOUT_S * 1000 - 500);
    expect(held).toHaveLength(TOTAL);
    const longest = Math.max(...held.map((l) => l.lifetimeMs!));
    expect(longest).toBeLessThan(TIMEOUT_S * 1000 + 1500);
    await legitimate('127.0.0.3');
    await until(() => bridgeSockets() <= 3, 'the bridge to hold only its listening socket', 5_000).catch(
      () => {},
    );
    console.log(
      `timeout: ${held.length} held sockets dropped after ${Math.min(...held.map((l) => l.lifetimeMs!))}-${longest} ms; after ${figures()}; ` +
        `logged ${bridge.lines.filter((l) => l.event === 'pending-refused').length} pending-refused summary line(s)`,
    );
  });
});
