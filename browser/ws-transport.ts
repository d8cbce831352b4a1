/**
 * lib/client Transport over a browser WebSocket to the bridge: each send() one binary message
 * (one request frame, or up to four v4 Chunk frames: the bridge checks each message as whole
 * frames), responses arrive as binary messages of any split. Backpressure: send() resolves
 * only once the socket's bufferedAmount is under the high-water mark, polling while it is
 * above (WebSocket has no drain event). The contract (errors, concurrency, closing) is
 * lib/client/transport.ts. A message larger than the bridge ever sends
 * (MAX_BRIDGE_MESSAGE_BYTES) closes the connection as a protocol error (`protocolError`): the
 * browser delivers a message whole before the page sees it, so it cannot be refused earlier,
 * but it is not kept, and the peer learns at once that it is not talking to a working bridge.
 */
import { ReceiveQueue } from '../lib/client/receive-queue';
import type { Transport } from '../lib/client/transport';
import { clientSubprotocols } from '../lib/invite';
import { MAX_BRIDGE_MESSAGE_BYTES } from '../lib/protocol';
import { BrowserError } from './errors';

/** Bytes the browser may hold unsent before send() waits: enough to keep the pipe full. */
export const WS_HIGH_WATER_MARK = 4 * 1024 * 1024;
/** How often send() re-checks bufferedAmount while above the mark. */
const DRAIN_POLL_MS = 4;
/** How long opening the socket may take before we call the bridge unreachable. */
export const WS_OPEN_TIMEOUT_MS = 10_000;

export interface WsTransportOptions {
  highWaterMark?: number;
  openTimeoutMs?: number;
  /**
   * The invite token, offered at the handshake as the subprotocol `sft-invite.<token>` beside
   * `sft` (never in the URL, which the bridge and proxies log). Without one nothing is offered.
   */
  invite?: string;
  /** Makes the socket; tests inject a fake. */
  createSocket?: (url: string, protocols?: string[]) => WebSocket;
}

/**
 * Joins the pieces of a send() into one message (a WebSocket message is one buffer), in `scratch`
 * when it is big enough. WebSocket.send() copies the bytes before it returns (the page may
 * change a buffer right after sending it), so one scratch buffer serves every message:
 * a fresh 1 MiB buffer per message cost Chromium page faults and zeroing on top of the copy.
 */
function joinParts(parts: readonly Uint8Array[], scratch: Uint8Array): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = size <= scratch.length ? scratch.subarray(0, size) : new Uint8Array(size);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Messages up to this size are joined in the reused buffer (a 1 MiB v3 packet and its header, four v4 Chunk frames). */
const SCRATCH_SIZE = 1024 * 1024 + 4096;

export class WsTransport implements Transport {
  readonly #ws: WebSocket;
  readonly #highWaterMark: number;
  /** Allocated on the first multi-part send; reused for every later one. */
  #scratch = new Uint8Array(0);
  /** Received messages not yet taken by receive(). */
  readonly #received = new ReceiveQueue();
  #closed = false;
  /** Resolves once the connection is closed, by either side. */
  readonly closed: Promise<void> = this.#received.ended;
  /** Set when the socket closed on its own (not through close()). */
  #closeInfo: { code: number; reason: string } | undefined;
  /** Set when this transport closed the connection because the bridge broke the protocol. */
  #protocolError: string | undefined;
  /** Bytes handed to the socket so far (with bufferedAmount: how many the peer took). */
  #sent = 0;

  private constructor(ws: WebSocket, highWaterMark: number) {
    this.#ws = ws;
    this.#highWaterMark = highWaterMark;
    ws.addEventListener('message', (ev: MessageEvent) => {
      if (this.#closed || !(ev.data instanceof ArrayBuffer)) return; // the bridge sends only binary
      if (ev.data.byteLength > MAX_BRIDGE_MESSAGE_BYTES) {
        this.#refuse(
          `The bridge sent a message of ${ev.data.byteLength.toLocaleString('en-US')} bytes, larger than any it sends ` +
            `(at most ${MAX_BRIDGE_MESSAGE_BYTES.toLocaleString('en-US')}), so the page closed the connection: ` +
            'this is not a working bridge, or something on the way changed what it sent.',
        );
        return;
      }
      this.#received.push(new Uint8Array(ev.data));
    });
    ws.addEventListener('close', (ev: CloseEvent) => {
      if (!this.#closed) this.#closeInfo = { code: ev.code, reason: ev.reason };
      this.#closed = true;
      this.#received.end();
    });
  }

  /** Opens a WebSocket to `url`; rejects BROWSER_ERR_BRIDGE_UNREACHABLE if it does not open. */
  static connect(url: string, opts: WsTransportOptions = {}): Promise<WsTransport> {
    const highWaterMark = opts.highWaterMark ?? WS_HIGH_WATER_MARK;
    const timeoutMs = opts.openTimeoutMs ?? WS_OPEN_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      let ws: WebSocket;
      try {
        const protocols = opts.invite ? clientSubprotocols(opts.invite) : undefined;
        ws = opts.createSocket ? opts.createSocket(url, protocols) : new WebSocket(url, protocols);
      } catch (cause) {
        reject(new BrowserError('BROWSER_ERR_BRIDGE_UNREACHABLE', `Bad bridge address ${url}.`, { cause }));
        return;
      }
      ws.binaryType = 'arraybuffer';
      const fail = () => {
        cleanup();
        try {
          ws.close();
        } catch {
          // already closing
        }
        reject(new BrowserError('BROWSER_ERR_BRIDGE_UNREACHABLE', `Could not open ${url}.`));
      };
      const timer = setTimeout(fail, timeoutMs);
      const onOpen = () => {
        cleanup();
        resolve(new WsTransport(ws, highWaterMark));
      };
      const cleanup = () => {
        clearTimeout(timer);
        ws.removeEventListener('open', onOpen);
        ws.removeEventListener('error', fail);
        ws.removeEventListener('close', fail);
      };
      ws.addEventListener('open', onOpen);
      ws.addEventListener('error', fail);
      ws.addEventListener('close', fail);
    });
  }

  /** How the socket closed when the peer closed it (undefined while open or after close()). */
  get closeInfo(): { code: number; reason: string } | undefined {
    return this.#closeInfo;
  }

  /**
   * Why this transport closed the connection itself: the bridge broke the protocol (a
   * message larger than MAX_BRIDGE_MESSAGE_BYTES). A sentence; undefined otherwise.
   */
  get protocolError(): string | undefined {
    return this.#protocolError;
  }

  /** Bytes handed to send() that the browser has not put on the network yet. */
  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#ws.bufferedAmount;
  }

  /** Bytes of ours the network has taken so far (sent less what the browser still holds). */
  get bytesTaken(): number {
    return this.#sent - this.#ws.bufferedAmount;
  }

  get isOpen(): boolean {
    return !this.#closed;
  }

  async send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#closed) {
      throw new BrowserError('BROWSER_ERR_CONNECTION_LOST', 'The connection to the bridge is closed.');
    }
    if (parts.length > 1 && this.#scratch.length === 0) this.#scratch = new Uint8Array(SCRATCH_SIZE);
    const message = joinParts(parts, this.#scratch);
    this.#sent += message.length;
    this.#ws.send(message as Uint8Array<ArrayBuffer>);
    while (this.#ws.bufferedAmount >= this.#highWaterMark) {
      await new Promise((r) => setTimeout(r, DRAIN_POLL_MS));
      if (this.#closed) {
        throw new BrowserError(
          'BROWSER_ERR_CONNECTION_LOST',
          'The connection to the bridge closed while sending.',
        );
      }
    }
  }

  receive(): Promise<Uint8Array | null> {
    return this.#received.receive();
  }

  /** Closes the connection because the bridge broke the protocol: `why` is said as the failure. */
  #refuse(why: string): void {
    this.#protocolError = why;
    this.#close('message too big');
  }

  close(): void {
    this.#close('done');
  }

  #close(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#received.discard();
    try {
      // A page may close only with 1000 or 3000-4999 (1009 would throw).
      this.#ws.close(1000, reason);
    } catch {
      // already closing
    }
  }
}
