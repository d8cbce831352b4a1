/** Every Transport against the one contract suite: CLI TCP, CLI WebSocket, browser WebSocket, memory. */
import net from 'node:net';
import { afterAll, beforeAll } from 'vitest';
import { type WebSocket as NodeWebSocket, WebSocketServer, WebSocket as WsClient } from 'ws';
import { WsTransport as BrowserWsTransport } from '../../browser/ws-transport';
import { TcpTransport } from '../../cli/tcp-transport';
import { WsTransport as CliWsTransport } from '../../cli/ws-transport';
import { MemoryTransport } from '../support/memory-transport';
import { describeTransportContract, type TransportPeer } from './transport.contract';

/** Collects what the transport sent; resolves `bytes(n)` once n bytes are in. */
class Collector {
  #got: number[] = [];
  #waiters: { n: number; resolve: (b: Uint8Array) => void }[] = [];
  add(chunk: Uint8Array): void {
    this.#got.push(...chunk);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.#got.length < w.n) return true;
      w.resolve(new Uint8Array(this.#got));
      return false;
    });
  }
  bytes(n: number): Promise<Uint8Array> {
    if (this.#got.length >= n) return Promise.resolve(new Uint8Array(this.#got));
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
  }
}

/** Resolves with the next connection a server accepts. */
function nextOf<T>(queue: ((c: T) => void)[]): Promise<T> {
  return new Promise((resolve) => queue.push(resolve));
}

// --- TCP: a net server plays the file server.
let tcpServer: net.Server;
const tcpAccepts: ((s: net.Socket) => void)[] = [];
// --- WebSocket: a ws server plays the bridge.
let wsServer: WebSocketServer;
const wsAccepts: ((s: NodeWebSocket) => void)[] = [];
let wsUrl = '';

beforeAll(async () => {
  tcpServer = net.createServer((s) => tcpAccepts.shift()?.(s));
  await new Promise<void>((r) => tcpServer.listen(0, '127.0.0.1', r));
  wsServer = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wsServer.on('connection', (s) => wsAccepts.shift()?.(s));
  await new Promise<void>((r) => wsServer.once('listening', r));
  wsUrl = `ws://127.0.0.1:${(wsServer.address() as net.AddressInfo).port}/`;
});
afterAll(async () => {
  for (const c of wsServer.clients) c.terminate();
  await new Promise((r) => wsServer.close(r));
  await new Promise((r) => tcpServer.close(r));
});

function tcpPeer(socket: net.Socket): TransportPeer {
  const got = new Collector();
  socket.on('data', (d: Buffer) => got.add(d));
  socket.on('error', () => {});
  return {
    write: (b) => socket.write(b),
    bytes: (n) => got.bytes(n),
    close: () => socket.end(),
    drop: () => socket.destroy(),
    stall: () => socket.pause(),
    closed: new Promise((r) => socket.once('close', () => r())),
  };
}

function wsPeer(socket: NodeWebSocket): TransportPeer {
  const got = new Collector();
  socket.on('message', (d: Buffer) => got.add(d));
  socket.on('error', () => {});
  return {
    write: (b) => socket.send(b, { binary: true }),
    bytes: (n) => got.bytes(n),
    close: () => socket.close(1000),
    drop: () => socket.terminate(),
    stall: () => socket.pause(),
    closed: new Promise((r) => socket.once('close', () => r())),
  };
}

describeTransportContract('cli/tcp-transport', {
  closedCode: 'CLIENT_ERR_CONNECTION_CLOSED',
  backpressure: true,
  async connect() {
    const accepted = nextOf(tcpAccepts);
    const { port } = tcpServer.address() as net.AddressInfo;
    const transport = await TcpTransport.connect('127.0.0.1', port);
    return { transport, peer: tcpPeer(await accepted) };
  },
});

describeTransportContract('cli/ws-transport', {
  closedCode: 'CLIENT_ERR_CONNECTION_CLOSED',
  backpressure: true,
  async connect() {
    const accepted = nextOf(wsAccepts);
    const transport = await CliWsTransport.connect(wsUrl);
    return { transport, peer: wsPeer(await accepted) };
  },
});

describeTransportContract('browser/ws-transport (ws as the WebSocket)', {
  closedCode: 'BROWSER_ERR_CONNECTION_LOST',
  backpressure: true,
  async connect() {
    const accepted = nextOf(wsAccepts);
    const transport = await BrowserWsTransport.connect(wsUrl, {
      createSocket: (url) => new WsClient(url) as unknown as WebSocket,
    });
    return { transport, peer: wsPeer(await accepted) };
  },
});

describeTransportContract('test/support/memory-transport', {
  closedCode: 'CLIENT_ERR_CONNECTION_CLOSED',
  backpressure: false,
  async connect() {
    const got = new Collector();
    let write: (b: Uint8Array) => void = () => {};
    let close: () => void = () => {};
    let markClosed: () => void = () => {};
    const closed = new Promise<void>((r) => {
      markClosed = r;
    });
    const transport = new MemoryTransport((w, c) => {
      write = w;
      close = () => {
        c();
        markClosed();
      };
      return { push: (b) => got.add(b), end: markClosed };
    });
    return {
      transport,
      peer: {
        write: (b) => write(b),
        bytes: (n) => got.bytes(n),
        close: () => close(),
        drop: () => close(),
        closed,
      },
    };
  },
});
