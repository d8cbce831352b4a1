import { connect, type NetConnectOpts, type Socket } from 'node:net';
import type { RawData, WebSocket } from 'ws';
import {
  CLOSE_REASONS,
  CloseCode,
  closeReason,
  encodeResponseHeader,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
  ResponseFrameDecoder,
} from '../lib/protocol';
import { SERVER_TO_CLIENT_FRAMES } from '../lib/protocol/v4/constants';
import { FrameDecoder } from '../lib/protocol/v4/frame-decoder';
import { encodeFrameHeader } from '../lib/protocol/v4/frames';
import type { HostPort } from './config';
import { BridgeError } from './errors';
import { checkRequestMessage, closeCodeFor } from './frame-check';
import type { ConnectionRecord, Logger } from './log';
import { checkV4Message, isPreamble } from './v4-frame-check';

export interface RelayOptions {
  target: HostPort;
  /** Largest WebSocket message (header + payload). */
  maxPayload: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  /** Stop reading TCP while the WebSocket has more than this queued for the browser. */
  wsHighWaterMark?: number;
  /** Resume reading TCP once the WebSocket's queue is down to this. */
  wsLowWaterMark?: number;
  /** TCP write buffer size above which the bridge stops reading the WebSocket. */
  tcpHighWaterMark?: number;
  /** Written first on the TCP connection: the PROXY v2 header naming the client. */
  proxyHeader?: Uint8Array;
  /** Whether the closing `connection` line of this kind may be written (log sampling per source). */
  mayLog?: (kind: string) => boolean;
}

export interface RelayPeer {
  address: string;
  origin: string | null;
  /** The ID of the invite the connection carries (logged; the token never is). */
  inviteId?: string;
}

const DEFAULT_WS_HIGH_WATER = 1024 * 1024;
const DEFAULT_WS_LOW_WATER = 256 * 1024;
const DEFAULT_TCP_HIGH_WATER = 1024 * 1024;
/** After the browser left, how long the file server may take to read what we relayed. */
const TCP_LINGER_MS = 5_000;

/**
 * One WebSocket <-> exactly one TCP connection to the configured target (websockify's
 * model). Browser -> server: each binary message must be one whole request frame; it is
 * validated and written as is. Server -> browser: the byte stream is cut into response
 * frames, one per message. Each direction stops reading its source while the other side's
 * buffer is full, so memory stays bounded whatever either peer does. Messages already
 * queued are flushed before the close frame (ws sends in order).
 */
export class Relay {
  readonly #tcp: Socket;
  readonly #decoder = new ResponseFrameDecoder();
  /** Set by a first message that is the v4 preamble: both directions are then v4 frames. */
  #v4: FrameDecoder | null = null;
  /** The browser's ClientHello went through (it comes once, first). */
  #v4Hello = false;
  #firstMessage = true;
  readonly #started = Date.now();
  readonly #wsHigh: number;
  readonly #wsLow: number;
  #bytesIn = 0;
  #bytesOut = 0;
  #connected = false;
  #tcpPaused = false;
  #wsPaused = false;
  /** Set once the bridge or the target decides to end the connection. */
  #ending: { code: number; by: ConnectionRecord['closedBy'] } | null = null;
  #lastActivity = Date.now();
  #idleTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #lingerTimer: NodeJS.Timeout | null = null;
  #finished = false;
  #closeReasonFromClient = '';
  /** Resolves when both sides are closed and the log line is written. */
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  readonly #ws: WebSocket;
  readonly #opts: RelayOptions;
  readonly #peer: RelayPeer;
  readonly #log: Logger;

  constructor(ws: WebSocket, opts: RelayOptions, peer: RelayPeer, log: Logger) {
    this.#ws = ws;
    this.#opts = opts;
    this.#peer = peer;
    this.#log = log;
    this.done = new Promise((resolve) => {
      this.#resolveDone = resolve;
    });
    this.#wsHigh = opts.wsHighWaterMark ?? DEFAULT_WS_HIGH_WATER;
    this.#wsLow = opts.wsLowWaterMark ?? DEFAULT_WS_LOW_WATER;
    // Read nothing from the browser until the file server is there to take it.
    ws.pause();
    this.#tcp = connect({
      host: opts.target.host,
      port: opts.target.port,
      writableHighWaterMark: opts.tcpHighWaterMark ?? DEFAULT_TCP_HIGH_WATER,
    } as NetConnectOpts);
    this.#tcp.setNoDelay(true);
    // Queued until the connection is up, then sent before any frame.
    if (opts.proxyHeader) this.#tcp.write(opts.proxyHeader);
    this.#connectTimer = setTimeout(
      () => this.#end(CloseCode.TargetUnreachable, 'bridge'),
      opts.connectTimeoutMs,
    );
    this.#tcp.once('connect', () => this.#onConnect());
    this.#tcp.on('data', (chunk: Buffer) => this.#onTcpData(chunk));
    this.#tcp.on('drain', () => this.#onTcpDrain());
    this.#tcp.on('end', () => this.#end(CloseCode.TargetClosed, 'target'));
    this.#tcp.on('error', () =>
      this.#end(this.#connected ? CloseCode.TargetClosed : CloseCode.TargetUnreachable, 'target'),
    );
    this.#tcp.on('close', () => this.#onTcpClose());
    ws.on('message', (data, isBinary) => this.#onMessage(data, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      // ws has already sent its own close frame (1009 for an oversized message, 1002/1007 for
      // a broken WebSocket frame); drop the TCP side.
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' && !this.#ending) {
        this.#ending = { code: CloseCode.MessageTooBig, by: 'bridge' };
      }
      this.#idleTimer = stopTimer(this.#idleTimer);
      this.#tcp.destroy();
    });
    ws.on('close', (code, reason) => this.#onWsClose(code, reason.toString()));
  }

  /**
   * The client's unfinished messages passed its memory budget: close with 4004 and stop reading,
   * so nothing more is buffered (ws drops the socket after its close timeout).
   */
  overBudget(): void {
    this.#end(CloseCode.TooManyConnections, 'bridge');
    this.#ws.pause();
  }

  /** Bridge shutdown: flush what is queued, close the WebSocket with 1001, end TCP. */
  shutdown(): void {
    this.#end(CloseCode.GoingAway, 'bridge');
  }

  #onConnect(): void {
    this.#connected = true;
    this.#connectTimer = stopTimer(this.#connectTimer);
    if (this.#ending) return;
    this.#touch();
    this.#ws.resume();
  }

  #onMessage(data: RawData, isBinary: boolean): void {
    if (this.#ending) return;
    if (!isBinary) {
      this.#end(CloseCode.TextNotAllowed, 'bridge');
      return;
    }
    // Default binaryType 'nodebuffer': one Buffer per message, fragments already joined.
    const message = data as Buffer;
    try {
      if (this.#firstMessage && isPreamble(message)) {
        this.#v4 = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
      } else if (this.#v4) {
        checkV4Message(message, this.#opts.maxPayload - REQUEST_HEADER_SIZE, !this.#v4Hello);
        this.#v4Hello = true;
      } else checkRequestMessage(message, this.#opts.maxPayload - REQUEST_HEADER_SIZE);
      this.#firstMessage = false;
    } catch (err) {
      if (!(err instanceof BridgeError)) throw err;
      this.#end(closeCodeFor(err.code), 'bridge');
      return;
    }
    this.#touch();
    this.#bytesIn += message.length;
    if (!this.#tcp.write(message) && !this.#wsPaused) {
      this.#wsPaused = true;
      this.#ws.pause();
    }
  }

  #onTcpDrain(): void {
    if (this.#wsPaused && !this.#ending) {
      this.#wsPaused = false;
      this.#ws.resume();
    }
  }

  #onTcpData(chunk: Buffer): void {
    // After the browser or the bridge ended it, nobody reads responses any more.
    if ((this.#ending && this.#ending.by !== 'target') || this.#ws.readyState !== this.#ws.OPEN) return;
    this.#touch();
    if (this.#v4) {
      this.#relayV4(this.#v4, chunk);
      return;
    }
    let frames: ReturnType<ResponseFrameDecoder['push']>;
    try {
      frames = this.#decoder.push(chunk);
    } catch {
      this.#end(CloseCode.TargetProtocolError, 'bridge');
      return;
    }
    for (const { header, payload } of frames) {
      // Responses are small (at most MAX_RESPONSE_PAYLOAD); one copy keeps them whole.
      const message = Buffer.allocUnsafe(RESPONSE_HEADER_SIZE + payload.length);
      encodeResponseHeader(header, message);
      message.set(payload, RESPONSE_HEADER_SIZE);
      this.#bytesOut += message.length;
      this.#ws.send(message, { binary: true }, () => this.#onWsSent());
    }
    if (!this.#tcpPaused && this.#ws.bufferedAmount > this.#wsHigh) {
      this.#tcpPaused = true;
      this.#tcp.pause();
    }
  }

  /** Server -> browser on a v4 connection: one frame per message, as for v3. */
  #relayV4(decoder: FrameDecoder, chunk: Buffer): void {
    let frames: ReturnType<FrameDecoder['push']>;
    try {
      frames = decoder.push(chunk);
    } catch {
      this.#end(CloseCode.TargetProtocolError, 'bridge');
      return;
    }
    for (const f of frames) {
      const message = Buffer.allocUnsafe(6 + f.body.length);
      message.set(encodeFrameHeader(f.type, f.body.length));
      message.set(f.body, 6);
      this.#bytesOut += message.length;
      this.#ws.send(message, { binary: true }, () => this.#onWsSent());
    }
    if (!this.#tcpPaused && this.#ws.bufferedAmount > this.#wsHigh) {
      this.#tcpPaused = true;
      this.#tcp.pause();
    }
  }

  #onWsSent(): void {
    if (this.#tcpPaused && this.#ws.bufferedAmount <= this.#wsLow) {
      this.#tcpPaused = false;
      this.#tcp.resume();
    }
  }

  /**
   * Starts closing, once: the WebSocket gets `code` after everything already queued for it,
   * and the TCP side is ended (the file server closed it), or destroyed (a refusal).
   */
  #end(code: CloseCode, by: ConnectionRecord['closedBy']): void {
    if (this.#ending || this.#finished) return;
    this.#ending = { code, by };
    this.#idleTimer = stopTimer(this.#idleTimer);
    this.#connectTimer = stopTimer(this.#connectTimer);
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(code, closeReason(code));
    // Read again so the browser's answering close frame is seen (messages are ignored now).
    this.#wsPaused = false;
    if (this.#ws.isPaused) this.#ws.resume();
    if (code === CloseCode.GoingAway) this.#lingerTcp();
    else if (by === 'bridge') this.#tcp.destroy();
    // by === 'target': TCP has ended or failed; its 'close' follows.
  }

  /** Lets the file server read what was relayed, then gives up after TCP_LINGER_MS. */
  #lingerTcp(): void {
    if (this.#tcp.destroyed) return;
    this.#tcp.end();
    this.#lingerTimer ??= setTimeout(() => this.#tcp.destroy(), TCP_LINGER_MS);
  }

  #onWsClose(code: number, reason: string): void {
    this.#idleTimer = stopTimer(this.#idleTimer);
    this.#connectTimer = stopTimer(this.#connectTimer);
    if (!this.#ending) {
      this.#ending = { code, by: 'client' };
      this.#closeReasonFromClient = reason;
    }
    if (this.#tcp.destroyed) this.#finish();
    else this.#lingerTcp();
  }

  #onTcpClose(): void {
    this.#lingerTimer = stopTimer(this.#lingerTimer);
    this.#connectTimer = stopTimer(this.#connectTimer);
    if (!this.#ending) this.#end(CloseCode.TargetClosed, 'target');
    if (this.#ws.readyState === this.#ws.CLOSED) this.#finish();
    // Otherwise onWsClose finishes once the close handshake (or ws's close timeout) is done.
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#lingerTimer = stopTimer(this.#lingerTimer);
    const ending = this.#ending ?? { code: 1006, by: 'client' as const };
    if (this.#opts.mayLog?.(`connection ${ending.code} ${ending.by}`) === false) {
      this.#resolveDone();
      return;
    }
    this.#log.info(
      {
        event: 'connection',
        peer: this.#peer.address,
        origin: this.#peer.origin,
        durationMs: Date.now() - this.#started,
        bytesIn: this.#bytesIn,
        bytesOut: this.#bytesOut,
        closeCode: ending.code,
        closeReason:
          ending.by === 'client'
            ? this.#closeReasonFromClient
            : (CLOSE_REASONS[ending.code as CloseCode] ?? ''),
        closedBy: ending.by,
        ...(this.#peer.inviteId === undefined ? {} : { inviteId: this.#peer.inviteId }),
      } satisfies ConnectionRecord,
      'connection closed',
    );
    this.#resolveDone();
  }

  #touch(): void {
    if (this.#ending) return;
    this.#lastActivity = Date.now();
    if (this.#idleTimer === null) this.#armIdle(this.#opts.idleTimeoutMs);
  }

  /** One timer re-armed lazily, not one clearTimeout per message. */
  #armIdle(ms: number): void {
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null;
      if (this.#ending) return;
      const idle = Date.now() - this.#lastActivity;
      if (idle >= this.#opts.idleTimeoutMs) this.#end(CloseCode.IdleTimeout, 'bridge');
      else this.#armIdle(this.#opts.idleTimeoutMs - idle);
    }, ms);
  }
}

/** Clears a timer if one is set; returns null for the field that held it. */
function stopTimer(t: NodeJS.Timeout | null): null {
  if (t !== null) clearTimeout(t);
  return null;
}
