/**
 * A lib/client `Transport` over a WebSocket (Node `ws`), speaking to the bridge the way the
 * browser does: each send() (one request frame, or up to four v4 Chunks) one binary message,
 * response frames one per message.
 * The contract (errors, concurrency, closing) is lib/client/transport.ts.
 */
import WebSocket from 'ws';
import { ClientError } from '../lib/client/errors';
import { ReceiveQueue } from '../lib/client/receive-queue';
import type { Transport } from '../lib/client/transport';
import { clientSubprotocols } from '../lib/invite';
import { DEFAULT_BRIDGE_PORT, MAX_BRIDGE_MESSAGE_BYTES } from '../lib/protocol';
import { escapeUnsafe } from '../lib/protocol/name-chars';

export interface WsTransportOptions {
  /** Origin header to send (browsers always send one; the bridge checks it). */
  origin?: string;
  /** send() waits while more than this is queued for the network. */
  highWaterMark?: number;
  /** Give up opening after this long. */
  openTimeoutMs?: number;
  /** An invite token, offered as the `sft-invite.<token>` subprotocol beside `sft`. */
  invite?: string;
}

const DEFAULT_HIGH_WATER = 4 * 1024 * 1024;
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;
/** Stop reading the socket when this many responses wait for receive(). */
const MAX_QUEUED_MESSAGES = 64;

/** Why a WebSocket did not open, in a sentence (ws gives OpenSSL's and Node's own texts). */
function openFailure(err: NodeJS.ErrnoException, url: string): string {
  // Node's HTTP parser (llhttp, HPE_*): the peer answered, but not in HTTP (the file server's
  // own port answers the handshake with protocol bytes).
  if (err.code?.startsWith('HPE_') || /^Parse Error\b/.test(err.message)) {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'wss:' ? '443' : '80');
    return `that address did not answer as a WebSocket bridge (its answer is not HTTP). If it is the file server, give it without ws://, as --server ${u.hostname}:${port}.`;
  }
  if (err.code === 'ECONNREFUSED') return 'the connection was refused. Is the bridge running on that port?';
  if (err.code === 'ECONNRESET')
    return `it closed the connection without answering the WebSocket handshake. Is this the bridge's port (${DEFAULT_BRIDGE_PORT} unless it was given another), not the web page's?`;
  if (err.code === 'EPROTO' || /wrong version number|SSL routines/i.test(err.message))
    return 'it does not answer TLS. A bridge without TLS takes ws://, not wss://.';
  if (err.code === 'ENOTFOUND') return 'no such host name.';
  return `${err.message}.`;
}

export class WsTransport implements Transport {
  readonly #ws: WebSocket;
  readonly #highWaterMark: number;
  /** Responses not yet taken; reading the socket pauses while too many wait. */
  readonly #received: ReceiveQueue;
  /** Completion of each send not yet flushed to the kernel, oldest first. */
  readonly #inFlight: Promise<void>[] = [];
  #closed = false;
  #closeCode: number | null = null;
  #closeReason = '';

  private constructor(ws: WebSocket, highWaterMark: number) {
    this.#ws = ws;
    this.#highWaterMark = highWaterMark;
    this.#received = new ReceiveQueue({
      highWaterMark: MAX_QUEUED_MESSAGES,
      onFull: () => ws.pause(),
      onRoom: () => {
        if (ws.isPaused) ws.resume();
      },
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      this.#received.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    });
    ws.on('close', (code, reason) => {
      this.#closed = true;
      this.#closeCode = code;
      // The bridge's text: escaped, it ends up in a line of ours (lostBecause).
      this.#closeReason = escapeUnsafe(reason.toString());
      this.#received.end();
    });
    ws.on('error', () => {
      // 'close' follows and reports the outcome.
    });
  }

  /** Close code once closed (1006 when the connection dropped without one). */
  get closeCode(): number | null {
    return this.#closeCode;
  }

  get closeReason(): string {
    return this.#closeReason;
  }

  /** Opens a WebSocket to `url` (ws:// or wss://); rejects with a readable reason. */
  static connect(url: string, opts: WsTransportOptions = {}): Promise<WsTransport> {
    // Without an invite, no subprotocol at all: a bridge from before invites selects none.
    const protocols = opts.invite === undefined ? [] : clientSubprotocols(opts.invite);
    const ws = new WebSocket(url, protocols, {
      perMessageDeflate: false,
      // ws would otherwise join fragments up to 100 MiB before handing a message on, so a
      // hostile bridge could make us hold 100 MiB per message. Past it ws closes with 1009 and
      // nothing of the message is kept.
      maxPayload: MAX_BRIDGE_MESSAGE_BYTES,
      handshakeTimeout: opts.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS,
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    return new Promise((resolve, reject) => {
      const fail = (reason: string, cause?: unknown) => {
        ws.removeAllListeners();
        ws.on('error', () => {});
        ws.terminate();
        reject(
          new ClientError(
            'CLIENT_ERR_UNREACHABLE',
            `Cannot reach the bridge at ${url}: ${reason}`,
            {},
            { cause },
          ),
        );
      };
      ws.once('unexpected-response', (_req, res) =>
        fail(
          `it refused the connection (HTTP ${res.statusCode}). Check the URL and the bridge's --origin list.`,
        ),
      );
      ws.once('error', (err: NodeJS.ErrnoException) => fail(openFailure(err, url), err));
      ws.once('open', () => {
        ws.removeAllListeners('unexpected-response');
        ws.removeAllListeners('error');
        resolve(new WsTransport(ws, opts.highWaterMark ?? DEFAULT_HIGH_WATER));
      });
    });
  }

  /** Sends the frames of one call as one binary message; resolves once under the high-water mark. */
  async send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) throw this.#closedError();
    const message = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const flushed = new Promise<void>((resolve, reject) => {
      this.#ws.send(message, { binary: true }, (err) => (err ? reject(this.#closedError()) : resolve()));
    });
    flushed.catch(() => {});
    this.#inFlight.push(flushed);
    // Writes complete in order: wait for the oldest until the queue is under the mark.
    while (this.#ws.bufferedAmount > this.#highWaterMark && this.#inFlight.length > 0) {
      await this.#inFlight.shift();
      // A failed connection empties the buffer too: that is not "drained".
      if (this.#closed) throw this.#closedError();
    }
    if (this.#inFlight.length > 256) this.#inFlight.splice(0, this.#inFlight.length - 256);
  }

  receive(): Promise<Uint8Array | null> {
    return this.#received.receive();
  }

  close(): void {
    this.#closed = true;
    this.#received.discard();
    // A paused socket could not read the peer's half of the closing handshake.
    if (this.#ws.isPaused) this.#ws.resume();
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(1000);
    }
  }

  /** Resolves once the connection is fully closed. */
  whenClosed(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => this.#ws.once('close', () => resolve()));
  }

  #closedError(): ClientError {
    const lost =
      this.#closeCode !== null
        ? `close ${this.#closeCode}${this.#closeReason ? `: ${this.#closeReason}` : ''}`
        : null;
    return new ClientError(
      'CLIENT_ERR_CONNECTION_CLOSED',
      `The connection to the bridge is closed${lost === null ? '' : ` (${lost})`}.`,
      lost === null ? {} : { lostBecause: lost },
    );
  }
}
