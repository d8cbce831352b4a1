/**
 * A lib/client `Transport` over a Node `net.Socket` (protocol v3 is raw TCP).
 * send() writes a frame's parts without concatenating them, corked so that all frames
 * sent in one tick leave in one writev; it resolves at once unless the socket's buffer is
 * over its high-water mark, then on 'drain'. receive() hands out 'data' chunks in order;
 * reading the socket pauses while MAX_QUEUED_CHUNKS of them wait unread (as the WebSocket
 * transport's messages do), so bytes the CLI did not ask for stay in the kernel, not in our
 * memory. The contract (errors, concurrency, closing) is lib/client/transport.ts.
 */
import net from 'node:net';
import { ClientError } from '../lib/client/errors';
import { ReceiveQueue } from '../lib/client/receive-queue';
import type { Transport } from '../lib/client/transport';

export interface TcpTransportOptions {
  /** Give up connecting after this long. */
  connectTimeoutMs?: number;
  /** send() waits for 'drain' once this many bytes are queued in the socket. */
  highWaterMark?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Two encryption slices: the next slice is encrypted while the kernel takes the previous one. */
const DEFAULT_HIGH_WATER_MARK = 2 * 1024 * 1024;
/**
 * Stop reading the socket when this many chunks (up to 64 KiB each, so about 4 MiB) wait for
 * receive(). Our servers' answers are a few small frames; without it everything a server or
 * anyone on the path sent while the CLI read nothing (hashing a file a resume found stored,
 * say) was kept: 512 MiB taken in one such wait.
 */
const MAX_QUEUED_CHUNKS = 64;

/** Formats host:port, bracketing IPv6 addresses. */
export function formatAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export class TcpTransport implements Transport {
  readonly #socket: net.Socket;
  readonly #address: string;
  readonly #received: ReceiveQueue;
  /** Sends waiting for 'drain'. */
  readonly #drainWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  #closed = false;
  #error: Error | null = null;
  #uncorkScheduled = false;

  private constructor(socket: net.Socket, address: string) {
    this.#socket = socket;
    this.#address = address;
    this.#received = new ReceiveQueue({
      highWaterMark: MAX_QUEUED_CHUNKS,
      onFull: () => socket.pause(),
      onRoom: () => socket.resume(),
    });
    socket.on('data', (chunk: Buffer) => this.#received.push(chunk));
    socket.on('drain', () => {
      for (const w of this.#drainWaiters.splice(0)) w.resolve();
    });
    socket.on('error', (err) => {
      this.#error ??= err;
    });
    socket.on('close', () => this.#shut());
    // The server half-closing means no more answers: treat as closed.
    socket.on('end', () => this.#shut());
  }

  /** Connects to host:port; rejects with CLIENT_ERR_UNREACHABLE and a sentence saying why. */
  static connect(host: string, port: number, opts: TcpTransportOptions = {}): Promise<TcpTransport> {
    const address = formatAddress(host, port);
    const timeoutMs = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = net.connect({
        host,
        port,
        noDelay: true, // small requests (1029...) must not wait for Nagle
        writableHighWaterMark: opts.highWaterMark ?? DEFAULT_HIGH_WATER_MARK,
      } as net.NetConnectOpts);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new ClientError(
            'CLIENT_ERR_UNREACHABLE',
            `The server at ${address} did not answer within ${Math.round(timeoutMs / 1000)} s. ` +
              'Check the address and that no firewall is in the way.',
          ),
        );
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        reject(unreachable(address, err));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TcpTransport(socket, address));
      });
    });
  }

  get address(): string {
    return this.#address;
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#closed || this.#socket.destroyed) return Promise.reject(this.#closedError());
    const socket = this.#socket;
    if (!this.#uncorkScheduled) {
      this.#uncorkScheduled = true;
      socket.cork();
      process.nextTick(() => {
        this.#uncorkScheduled = false;
        socket.uncork();
      });
    }
    let ok = true;
    for (const part of parts) ok = socket.write(part);
    if (ok) return Promise.resolve();
    return new Promise((resolve, reject) => this.#drainWaiters.push({ resolve, reject }));
  }

  receive(): Promise<Uint8Array | null> {
    return this.#received.receive();
  }

  /** Closes at once (unsent bytes are dropped): used on cancel and fatal errors. */
  close(): void {
    this.#socket.destroy();
    this.#received.discard();
    this.#shut();
  }

  /** Flushes what was written, then closes; resolves once the socket is closed. */
  end(): Promise<void> {
    if (this.#socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      this.#socket.once('close', () => resolve());
      // A paused socket would not read the server's end, and so never close.
      this.#socket.resume();
      this.#socket.end();
      // A server that never closes its side must not keep us waiting.
      setTimeout(() => this.#socket.destroy(), 2000).unref();
    });
  }

  #shut(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#received.end();
    const err = this.#closedError();
    for (const w of this.#drainWaiters.splice(0)) w.reject(err);
  }

  #closedError(): ClientError {
    const why = this.#error ? ` (${this.#error.message})` : '';
    return new ClientError(
      'CLIENT_ERR_CONNECTION_CLOSED',
      `The connection to the server at ${this.#address} is closed${why}.`,
      this.#error ? { lostBecause: this.#error.message } : {},
    );
  }
}

function unreachable(address: string, err: NodeJS.ErrnoException): ClientError {
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'the connection was refused. Is the server running on that port?',
    ENOTFOUND: 'the host name was not found. Check the spelling.',
    EAI_AGAIN: 'the host name could not be resolved right now. Check the network.',
    EHOSTUNREACH: 'the host is unreachable. Check the network.',
    ENETUNREACH: 'the network is unreachable. Check the network.',
    ETIMEDOUT: 'the connection timed out. Check the address and firewall.',
    ECONNRESET: 'the connection was reset. Is it the right port?',
  };
  const reason = reasons[err.code ?? ''] ?? `${err.message}.`;
  return new ClientError(
    'CLIENT_ERR_UNREACHABLE',
    `Cannot reach the server at ${address}: ${reason}`,
    {},
    { cause: err },
  );
}
