import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { MAX_TOKEN_LENGTH, type OfferedInvite, offeredInvite, SFT_SUBPROTOCOL } from '../lib/invite';
import { CloseCode, closeReason } from '../lib/protocol';
import { createAddressMatcher, LOOPBACK_CIDRS } from '../platform/address-match';
import { socketAddressBytes } from '../platform/ip-address';
import { LogSampler } from '../platform/log-sampler';
import {
  encodeProxyHeader,
  PP2_DEFAULT_MAX_LENGTH,
  type Pp2Tlv,
  Pp2Type,
  tcpProxyHeader,
} from '../platform/proxy-protocol';
import { sourceKey } from '../platform/source-key';
import type { BridgeConfig, HostPort } from './config';
import { HealthCheck } from './health';
import { InviteGate, type InviteVerdict } from './invite-gate';
import { type ConnectionRecord, createBridgeLogger, type Logger } from './log';
import { MessageBudget } from './message-budget';
import { Relay } from './relay';
import { PendingUpgrades } from './upgrade-limits';

export interface Bridge {
  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(): Promise<HostPort>;
  /** Stops accepting, closes every WebSocket with 1001 after flushing, ends every TCP side. */
  close(): Promise<void>;
  address(): HostPort | null;
  /** Open relays (not counting connections being refused). */
  connections(): number;
}

export interface BridgeOptions {
  log?: Logger;
  /** The server's invite public key (bridge/invite-gate.ts loadInvitePublicKey); required in invite mode. */
  inviteKey?: CryptoKey;
}

/** The WebSocket close handshake may take this long before ws drops the socket. */
const WS_CLOSE_TIMEOUT_MS = 5_000;
/** /healthz gives up on the target after this long. */
const HEALTH_PROBE_TIMEOUT_MS = 2_000;
/** Room for the addresses and the longest invite token: the server's reader allows the same. */
const PROXY_HEADER_MAX_LENGTH = PP2_DEFAULT_MAX_LENGTH + MAX_TOKEN_LENGTH;
const NO_INVITE: OfferedInvite = { kind: 'none' };
const utf8 = new TextEncoder();

function normalizeAddress(address: string | undefined): string {
  if (!address) return 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Answers an upgrade request with a plain HTTP error and drops the socket. */
function abortHandshake(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

export function createBridge(config: BridgeConfig, options: BridgeOptions = {}): Bridge {
  const log = options.log ?? createBridgeLogger();
  // Per source and kind of line (refusals, connection ends, budget refusals): an attacker
  // choosing how often to connect does not choose the log's volume.
  const sampler = new LogSampler({ rate: config.logRate, log });
  /** Numbers the connections in the log (`conn`), from 1 at start. */
  let accepted = 0;
  const anyOrigin = config.origins.includes('*');
  const allowedOrigins = new Set(config.origins);
  const relays = new Set<Relay>();
  /** Relays per source key (IPv4 address, IPv6 /64). */
  const perIp = new Map<string, number>();
  const buffered = new MessageBudget({ perSource: config.maxBufferedPerIp, total: config.maxBuffered });
  /**
   * Refused connections get a WebSocket close frame with a reason (a browser cannot read an
   * HTTP status). Past config.maxRefusing close handshakes in flight, or maxRefusingPerIp of
   * one source, refuse at the HTTP level instead: one address that never answered its close
   * frames held every one of them, and everyone else refused meanwhile got a bare 403/503.
   */
  let refusing = 0;
  const refusingPer = new Map<string, number>();
  const refusalRoom = (source: string): boolean =>
    refusing < config.maxRefusing && (refusingPer.get(source) ?? 0) < config.maxRefusingPerIp;
  /** Upgraded connections whose invite is being verified; they count against the relay limits. */
  let verifying = 0;
  const gate = new InviteGate(config.access, options.inviteKey);
  /** The invite each handshake offered, noted by handleProtocols for the upgrade callback. */
  const offers = new WeakMap<IncomingMessage, OfferedInvite>();
  let closing = false;
  const health = new HealthCheck(config.target, {
    timeoutMs: Math.min(HEALTH_PROBE_TIMEOUT_MS, config.connectTimeoutMs),
    cacheMs: config.healthCacheMs,
  });
  /** With --trust-proxy: the peers whose X-Forwarded-For is believed (the proxy's addresses). */
  const fromProxy = config.trustProxy
    ? createAddressMatcher(config.trustProxyFrom ?? LOOPBACK_CIDRS)
    : () => false;
  const pending = new PendingUpgrades(
    {
      maxTotal: config.maxPending,
      maxPerSource: config.maxPendingPerIp,
      // Every client of the proxy comes from its address: the proxy limits them itself.
      exempt: fromProxy,
      timeoutMs: config.handshakeTimeoutMs,
    },
    log,
  );

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: config.maxPayload,
    clientTracking: false,
    // Offered `sft` (and maybe `sft-invite.<token>`): select `sft`; an offer without it gets
    // no subprotocol (older clients offer none). The invite is judged in the upgrade callback.
    handleProtocols: (protocols: Set<string>, req: IncomingMessage) => {
      offers.set(req, offeredInvite(protocols));
      return protocols.has(SFT_SUBPROTOCOL) ? SFT_SUBPROTOCOL : false;
    },
    // Not in @types/ws yet; ws 8 honours it.
    ...({ closeTimeout: WS_CLOSE_TIMEOUT_MS } as object),
  });

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      health.check().then((ok) => {
        res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
        res.end(JSON.stringify({ target: ok ? 'reachable' : 'unreachable' }));
      });
      return;
    }
    res.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket' });
    res.end('This is the file transfer WebSocket bridge; connect with a WebSocket client.\n');
  };

  const server =
    config.cert !== undefined && config.key !== undefined
      ? createHttpsServer(
          // handshakeTimeout: the TLS handshake itself; the HTTP upgrade is timed below.
          {
            cert: readFileSync(config.cert),
            key: readFileSync(config.key),
            handshakeTimeout: config.handshakeTimeoutMs,
          },
          onRequest,
        )
      : createHttpServer(onRequest);
  server.headersTimeout = config.handshakeTimeoutMs;
  server.requestTimeout = config.handshakeTimeoutMs;

  // Caps and the handshake timeout for connections not yet upgraded (upgrade-limits.ts),
  // counted from the raw TCP connection, so a TLS handshake that never ends is timed too.
  server.on('connection', (socket: Socket) => pending.admit(socket));

  /** The client's address and port (port 0 when it came from X-Forwarded-For). */
  function peerAddress(req: IncomingMessage): { address: string; port: number } {
    // Only from the proxy: a client beside it (the bridge's port reachable directly) would
    // choose a fresh address per connection and be a stranger to every per-source limit.
    if (config.trustProxy && fromProxy(req.socket.remoteAddress)) {
      const forwarded = req.headers['x-forwarded-for'];
      const list = (Array.isArray(forwarded) ? forwarded.join(',') : (forwarded ?? '')).split(',');
      const last = list[list.length - 1]?.trim();
      // Not an address (a misconfigured proxy): count it under the proxy's own, never as text.
      if (last && socketAddressBytes(last)) return { address: normalizeAddress(last), port: 0 };
    }
    return { address: normalizeAddress(req.socket.remoteAddress), port: req.socket.remotePort ?? 0 };
  }

  /** The key per-address limits count under; 'unknown' only for a socket already gone. */
  function sourceOf(address: string): string {
    try {
      return sourceKey(address);
    } catch {
      return 'unknown';
    }
  }

  /** The PROXY v2 header naming the client, for the TCP connection to the file server. */
  /** With the invite token (whole, UTF-8) as TLV 0xE0 when the client offered a valid one. */
  function proxyHeaderFor(req: IncomingMessage, peer: { address: string; port: number }, token?: string) {
    if (!config.proxyProtocol) return undefined;
    const limit = { maxLength: PROXY_HEADER_MAX_LENGTH };
    const tlvs: Pp2Tlv[] =
      token === undefined ? [] : [{ type: Pp2Type.SFT_INVITE, value: utf8.encode(token) }];
    try {
      const destination = { address: req.socket.localAddress ?? '', port: req.socket.localPort ?? 0 };
      return encodeProxyHeader(tcpProxyHeader(peer, destination, tlvs), limit);
    } catch {
      // No address to name: the LOCAL command makes the server use the bridge's own.
      return encodeProxyHeader({ command: 'local', tlvs }, limit);
    }
  }

  /** Why this upgrade must be refused, or null to relay it. */
  function admission(origin: string | null, source: string): CloseCode | null {
    if (origin !== null && !anyOrigin && !allowedOrigins.has(origin)) return CloseCode.OriginNotAllowed;
    if (relays.size + verifying >= config.maxConnections) return CloseCode.TooManyConnections;
    if ((perIp.get(source) ?? 0) >= config.maxPerIp) return CloseCode.TooManyConnections;
    return null;
  }

  function refuse(
    ws: WebSocket,
    code: CloseCode,
    address: string,
    origin: string | null,
    connLog: Logger,
    inviteId?: string,
  ): void {
    const started = Date.now();
    const source = sourceOf(address);
    // Past the close handshakes in flight (a client that never answers holds one for the
    // close timeout), drop the socket instead of waiting for the answer.
    if (refusalRoom(source)) ws.close(code, closeReason(code));
    else ws.terminate();
    // Paused while its invite was checked: read again, so the answering close frame ends it.
    if (ws.isPaused) ws.resume();
    refusing += 1;
    refusingPer.set(source, (refusingPer.get(source) ?? 0) + 1);
    ws.once('close', () => {
      refusing -= 1;
      const left = (refusingPer.get(source) ?? 1) - 1;
      if (left === 0) refusingPer.delete(source);
      else refusingPer.set(source, left);
      if (!sampler.allow(source, `refused ${code}`)) return;
      connLog.info(
        {
          event: 'connection',
          peer: address,
          origin,
          durationMs: Date.now() - started,
          bytesIn: 0,
          bytesOut: 0,
          closeCode: code,
          closeReason: closeReason(code),
          closedBy: 'bridge',
          ...(inviteId === undefined ? {} : { inviteId }),
        } satisfies ConnectionRecord,
        'connection refused',
      );
    });
  }

  function relay(
    ws: WebSocket,
    peer: {
      address: string;
      source: string;
      origin: string | null;
      proxyHeader?: Uint8Array;
      inviteId?: string;
    },
    connLog: Logger,
  ): Relay {
    const { address, source, origin, inviteId } = peer;
    const r = new Relay(
      ws,
      {
        target: config.target,
        maxPayload: config.maxPayload,
        idleTimeoutMs: config.idleTimeoutMs,
        connectTimeoutMs: config.connectTimeoutMs,
        proxyHeader: peer.proxyHeader,
        mayLog: (kind) => sampler.allow(source, kind),
      },
      { address, origin, inviteId },
      connLog,
    );
    relays.add(r);
    perIp.set(source, (perIp.get(source) ?? 0) + 1);
    r.done.then(() => {
      relays.delete(r);
      const left = (perIp.get(source) ?? 1) - 1;
      if (left === 0) perIp.delete(source);
      else perIp.set(source, left);
    });
    return r;
  }

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    pending.upgraded(req.socket);
    socket.on('error', () => socket.destroy());
    if (closing) {
      abortHandshake(socket, 503, 'Service Unavailable');
      return;
    }
    const origin = req.headers.origin ?? null;
    const client = peerAddress(req);
    const address = client.address;
    const source = sourceOf(address);
    const verdict = admission(origin, source);
    if (verdict !== null && !refusalRoom(source)) {
      abortHandshake(socket, verdict === CloseCode.OriginNotAllowed ? 403 : 503, 'Refused');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      // One child logger per connection: its lines carry `conn`.
      const connLog = log.child({ conn: ++accepted });
      // Counted from the upgrade, whatever becomes of the connection: a refused one is read
      // until its close handshake ends (up to WS_CLOSE_TIMEOUT_MS), and ws buffers a message
      // meanwhile as on a relay. Uncounted, 16 refused connections from one address that never
      // answered the close frame held 15 MiB each (RSS +240 MiB; 64 refusals may be in
      // flight). Past the budget a refused or still-verifying connection is dropped (its close
      // code, if any, is already sent), a relay closed with 4004.
      let overBudget = (): void => ws.terminate();
      buffered.track(socket, ws, source, () => {
        if (sampler.allow(source, 'buffer-refused'))
          connLog.warn({ event: 'buffer-refused', peer: address, source, buffered: buffered.used(source) });
        overBudget();
      });
      if (verdict !== null) {
        refuse(ws, verdict, address, origin, connLog);
        return;
      }
      const offered = offers.get(req) ?? NO_INVITE;
      if (offered.kind === 'none' && gate.access === 'open') {
        const r = relay(ws, { address, source, origin, proxyHeader: proxyHeaderFor(req, client) }, connLog);
        overBudget = () => r.overBudget();
        return;
      }
      // Checked after the Origin and connection limits, holding a relay slot of this source
      // meanwhile, so a flood of tokens costs at most maxPerIp verifications at a time.
      ws.pause();
      verifying += 1;
      perIp.set(source, (perIp.get(source) ?? 0) + 1);
      const unexpected = (): InviteVerdict => ({ ok: false, code: CloseCode.InviteMalformed });
      gate
        .check(offered)
        .then(undefined, unexpected)
        .then((v) => {
          verifying -= 1;
          const left = (perIp.get(source) ?? 1) - 1;
          if (left === 0) perIp.delete(source);
          else perIp.set(source, left);
          // The client left meanwhile: nothing to answer, no line (its close was its own).
          if (ws.readyState !== ws.OPEN) ws.terminate();
          else if (!v.ok) refuse(ws, v.code, address, origin, connLog, v.inviteId);
          else {
            let proxyHeader: Uint8Array | undefined;
            try {
              proxyHeader = proxyHeaderFor(req, client, v.token);
            } catch {
              // Cannot happen for a token within MAX_TOKEN_LENGTH (it fits PROXY_HEADER_MAX_LENGTH);
              // never an unhandled rejection in the bridge if it did.
              refuse(ws, CloseCode.InviteMalformed, address, origin, connLog, v.inviteId);
              return;
            }
            const r = relay(ws, { address, source, origin, proxyHeader, inviteId: v.inviteId }, connLog);
            overBudget = () => r.overBudget();
          }
        });
    });
  });

  return {
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.listen.port, config.listen.host, () => {
          server.off('error', reject);
          const a = server.address() as AddressInfo;
          resolve({ host: a.address, port: a.port });
        });
      });
    },
    address() {
      const a = server.address() as AddressInfo | null;
      return a ? { host: a.address, port: a.port } : null;
    },
    connections() {
      return relays.size;
    },
    async close() {
      buffered.stop();
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const done = [...relays].map((r) => r.done);
      for (const r of relays) r.shutdown();
      await Promise.all(done);
      server.closeAllConnections();
      await stopped;
      sampler.flush();
    },
  };
}
