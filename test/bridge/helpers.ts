/** Test helpers: fake TCP targets, an in-process bridge, raw WebSocket clients. */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import { type BridgeConfig, DEFAULT_CONFIG } from '../../bridge/config';
import type { BridgeEvent, ConnectionRecord } from '../../bridge/log';
import { type Bridge, createBridge } from '../../bridge/server';
import {
  encodeResponse,
  PROTOCOL_VERSION,
  RequestCode,
  RequestDecoder,
  ResponseCode,
} from '../../lib/protocol';
import { createMemoryLogger } from '../../platform/log';
import { readProxyHeader } from '../../platform/proxy-header-reader';
import type { ProxyHeader } from '../../platform/proxy-protocol';
import { type Listening, type StartOptions, spawnPart } from '../support/processes';
import { FrameJoiner } from '../support/request-frames';

export const ORIGIN = 'http://localhost:3000';

export interface FakeTarget {
  port: number;
  /** Sockets accepted so far (open or closed). */
  sockets: Socket[];
  /** The PROXY header each connection started with (undefined: none). */
  proxyHeaders: (ProxyHeader | undefined)[];
  /** Resolves when the n-th accepted socket (0-based) has closed. */
  closed(n: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that hands each connection to `onSocket`, after the PROXY v2
 * header the bridge starts it with (recorded in `proxyHeaders`, in accept order).
 */
export async function startTarget(onSocket: (s: Socket) => void, port = 0): Promise<FakeTarget> {
  const sockets: Socket[] = [];
  const proxyHeaders: (ProxyHeader | undefined)[] = [];
  const closes: Promise<void>[] = [];
  const server: Server = createServer((s) => {
    sockets.push(s);
    closes.push(new Promise((r) => s.once('close', () => r())));
    s.on('error', () => {});
    readProxyHeader(s, { timeoutMs: 10_000, optional: true }).then(
      ({ header }) => {
        proxyHeaders.push(header);
        // The reader left it paused: flowing again unless onSocket pauses it (a slow reader)
        // or reads nothing (then it stays paused, as a socket nobody reads would).
        s.resume();
        onSocket(s);
        if (s.listenerCount('data') === 0) s.pause();
      },
      () => s.destroy(),
    );
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    proxyHeaders,
    async closed(n) {
      while (closes.length <= n) await new Promise((r) => setTimeout(r, 10));
      await closes[n];
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** Answers every request frame with 1604 carrying the request's client ID; records the requests. */
export function echoTarget(received: Uint8Array[] = []): (s: Socket) => void {
  return (s) => {
    const decoder = new RequestDecoder();
    const joiner = new FrameJoiner();
    s.on('data', (chunk) => {
      for (const { header, payload } of joiner.push(decoder.push(chunk))) {
        received.push(payload);
        if (header.code === RequestCode.CrcRetry) continue;
        s.write(encodeResponse({ code: ResponseCode.Thanks, clientId: header.clientId }));
      }
    });
  };
}

/** A port nothing listens on (bound, then released). */
export async function freePort(): Promise<number> {
  const t = await startTarget(() => {});
  await t.close();
  return t.port;
}

export interface TestBridge {
  bridge: Bridge;
  url: string;
  port: number;
  logs: (ConnectionRecord | BridgeEvent)[];
  close(): Promise<void>;
}

export async function startBridge(
  targetPort: number,
  overrides: Partial<BridgeConfig> = {},
): Promise<TestBridge> {
  const { log, lines } = createMemoryLogger('bridge');
  // The lines as the bridge wrote them (pino adds level, time, part and conn).
  const logs = lines as unknown as (ConnectionRecord | BridgeEvent)[];
  const bridge = createBridge(
    {
      ...DEFAULT_CONFIG,
      listen: { host: '127.0.0.1', port: 0 },
      target: { host: '127.0.0.1', port: targetPort },
      ...overrides,
    },
    { log },
  );
  const { port } = await bridge.listen();
  return { bridge, url: `ws://127.0.0.1:${port}/`, port, logs, close: () => bridge.close() };
}

export interface RawClient {
  ws: WebSocket;
  messages: Buffer[];
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next message (or rejects when the connection closes first). */
  next(): Promise<Buffer>;
}

/** A plain ws client (like a browser page) that records messages and the close. */
export function rawClient(
  url: string,
  opts: {
    origin?: string | null;
    headers?: Record<string, string> /** false: do not keep messages (floods). */;
    record?: boolean;
  } = {},
): Promise<RawClient> {
  const origin = opts.origin === undefined ? ORIGIN : opts.origin;
  const ws = new WebSocket(url, {
    perMessageDeflate: false,
    ...(origin ? { origin } : {}),
    headers: opts.headers,
  });
  const messages: Buffer[] = [];
  const waiters: ((b: Buffer | null) => void)[] = [];
  ws.on('message', (data: Buffer) => {
    const w = waiters.shift();
    if (w) w(data);
    else if (opts.record !== false) messages.push(data);
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => {
      for (const w of waiters.splice(0)) w(null);
      resolve({ code, reason: reason.toString() });
    }),
  );
  const client: RawClient = {
    ws,
    messages,
    closed,
    next() {
      const m = messages.shift();
      if (m) return Promise.resolve(m);
      if (ws.readyState === WebSocket.CLOSED) return Promise.reject(new Error('closed'));
      return new Promise((resolve, reject) =>
        waiters.push((b) => (b ? resolve(b) : reject(new Error('closed')))),
      );
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** A well-formed request frame with `payloadSize` bytes of payload (content is not judged by the bridge). */
export function requestFrame(code: number = RequestCode.CrcOk, payloadSize = 255, fill = 0x61): Buffer {
  const b = Buffer.alloc(23 + payloadSize, fill);
  b.fill(0x22, 0, 16);
  b.writeUInt8(PROTOCOL_VERSION, 16);
  b.writeUInt16LE(code, 17);
  b.writeUInt32LE(payloadSize, 19);
  return b;
}

export function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() - start > timeoutMs) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

export interface SpawnedBridge extends Listening {
  /** ws://127.0.0.1:PORT/ from its `listening` event. */
  url: string;
}

/** Runs `bridge/main.ts` in its own process on a free port and waits for its `listening` event. */
export async function spawnBridge(args: string[], opts: StartOptions = {}): Promise<SpawnedBridge> {
  const p = await spawnPart('bridge', ['--listen', '127.0.0.1:0', ...args], opts);
  return Object.assign(p, { url: String(p.event.url) });
}

/** Resolves once `value()` has not changed for `quietMs` (a stalled flow), checked every 50 ms. */
export async function stalled(value: () => number, quietMs = 500): Promise<void> {
  let last = value();
  let since = Date.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 50));
    const now = value();
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}
