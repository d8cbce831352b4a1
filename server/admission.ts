/**
 * Who a new connection is and whether it may stay, before any request is read:
 * - From a trusted relay address (--trusted-proxy, default loopback) it may start with a PROXY
 *   v2 header (the bridge sends one): the source is the header's. The header is optional there,
 *   on the one port, so the CLI and reference clients on loopback connect as before; a v3
 *   request cannot be mistaken for one (docs/SECURITY.md). From any other address the stream
 *   is never read as a header: a PROXY header sent there is a framing error (1607, closed).
 * - Per source (IPv4 address, IPv6 /64) and in total: connections (ConnectionLimiter), and the
 *   lower tier of connections without a completed key exchange (sshd's MaxStartups).
 * Refusals get 1607, like a full server always did, and one sampled log line; a peer whose
 * first bytes (within REFUSAL_PEEK_MS) are the protocol v4 preamble gets Alert 9 (BUSY)
 * instead, which a v4 client can read.
 */
import type { Socket } from 'node:net';
import { MAX_TOKEN_LENGTH } from '../lib/invite';
import { encodeResponse, ResponseCode } from '../lib/protocol';
import { FrameType, V4_ERROR_SENTENCES, V4ErrorCode } from '../lib/protocol/v4/constants';
import { encodeFrame } from '../lib/protocol/v4/frames';
import { encodeAlert } from '../lib/protocol/v4/messages';
import { createAddressMatcher } from '../platform/address-match';
import {
  type ConnectionLease,
  ConnectionLimiter,
  type ConnectionRefusal,
  KeyedBudget,
} from '../platform/concurrency-limit';
import type { Logger } from '../platform/log';
import type { LogSampler } from '../platform/log-sampler';
import { readProxyHeader } from '../platform/proxy-header-reader';
import { getTlv, PP2_DEFAULT_MAX_LENGTH, Pp2Type, ProxyProtocolError } from '../platform/proxy-protocol';
import { createSourceKey } from '../platform/source-key';
import type { ServerConfig } from './config';
import { pickProtocol } from './protocol-switch';

/** The real peer of a connection: the socket's, or the PROXY header's source. */
export interface Peer {
  address: string;
  port: number;
  /** The key per-source limits count under (sourceKey of address). */
  source: string;
  /** The relay's address when the peer came from a PROXY header. */
  via?: string;
  /** The invite token the relay passed on (TLV 0xE0), unverified: the session checks it. */
  invite?: string;
}

export interface Admitted {
  peer: Peer;
  lease: ConnectionLease;
}

const utf8 = new TextDecoder();

/** Room for the addresses, a few TLVs and the longest invite token (TLV 0xE0). */
export const PROXY_HEADER_MAX_LENGTH = PP2_DEFAULT_MAX_LENGTH + MAX_TOKEN_LENGTH;

/** How long a trusted relay's connection may take to show its header (the bridge sends it first). */
export const PROXY_HEADER_WAIT_MS = 2_000;
/** After a refusal's 1607, how long the peer gets to read it before the socket is destroyed. */
const REFUSAL_GRACE_MS = 1_000;
/** How long a refused peer's first bytes are awaited to answer in its protocol (clients send at once). */
export const REFUSAL_PEEK_MS = 200;

const BUSY_V3 = encodeResponse({ code: ResponseCode.ServerError });
const BUSY_V4 = encodeFrame(
  FrameType.Alert,
  encodeAlert({ code: V4ErrorCode.Busy, fatal: true, reason: V4_ERROR_SENTENCES[V4ErrorCode.Busy] }),
);

const REFUSAL_REASONS: Record<ConnectionRefusal, string> = {
  total: 'max connections',
  'per-source': 'max per source',
  startups: 'max startups',
  'startups-per-source': 'max startups per source',
  'early-drop': 'max startups',
};

export class Admission {
  readonly #trusted: (address: string | undefined) => boolean;
  readonly #tcpAllowed: (address: string | undefined) => boolean;
  readonly #sourceKey = createSourceKey();
  readonly #limiter: ConnectionLimiter;
  /** Trusted-relay sockets whose header has not arrived yet, by the relay's own address. */
  readonly #awaitingHeader: KeyedBudget;
  readonly #log: Logger;
  readonly #sampler: LogSampler;

  constructor(config: ServerConfig, log: Logger, sampler: LogSampler) {
    this.#trusted = createAddressMatcher(config.trustedProxies);
    this.#tcpAllowed = createAddressMatcher(config.tcpAllow);
    this.#limiter = new ConnectionLimiter({
      perSource: config.maxPerSource,
      total: config.maxConnections,
      startupsPerSource: config.maxStartupsPerSource,
      startups: config.maxStartups,
    });
    this.#awaitingHeader = new KeyedBudget({ perKey: config.maxStartups, total: config.maxStartups });
    this.#log = log;
    this.#sampler = sampler;
  }

  /** Connections held now, and of those without a key exchange. */
  get counts(): { connections: number; startups: number } {
    return { connections: this.#limiter.connections, startups: this.#limiter.startups };
  }

  /**
   * Resolves with the peer and its lease (release it when the socket closes), or null when the
   * connection was refused (answered and closed here). The socket is paused on success.
   */
  async admit(socket: Socket): Promise<Admitted | null> {
    socket.on('error', () => {});
    const direct = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    let socketSource: string;
    try {
      socketSource = this.#sourceKey(direct.address);
    } catch {
      socket.destroy(); // gone before we looked
      return null;
    }
    let peer: Peer = { ...direct, source: socketSource };
    if (this.#trusted(direct.address)) {
      const relayed = await this.#readHeader(socket, peer);
      if (!relayed) return null;
      peer = relayed;
    }
    if (socket.destroyed) return null;
    // Direct clients cannot carry an invite in v3: only the listed networks are served.
    if (peer.via === undefined && !this.#tcpAllowed(direct.address)) {
      if (this.#sampler.allow(peer.source, 'refused tcp-allow')) {
        this.#log.warn({
          event: 'connection-refused',
          peer: peerText(peer),
          source: peer.source,
          reason: 'tcp-allow',
        });
      }
      socket.destroy();
      return null;
    }
    const got = this.#limiter.tryAcquire(peer.source);
    if (!got.ok) {
      this.#refuse(socket, peer, REFUSAL_REASONS[got.reason]);
      return null;
    }
    return { peer, lease: got.lease };
  }

  /** The peer named by a PROXY header, the socket's own without one, or null (refused). */
  async #readHeader(socket: Socket, direct: Peer): Promise<Peer | null> {
    const slot = this.#awaitingHeader.tryReserve(direct.source);
    if (!slot.ok) {
      this.#refuse(socket, direct, 'awaiting proxy header');
      return null;
    }
    try {
      const { header } = await readProxyHeader(socket, {
        timeoutMs: PROXY_HEADER_WAIT_MS,
        optional: true,
        maxLength: PROXY_HEADER_MAX_LENGTH,
      });
      if (header === undefined || header.command === 'local') return direct;
      if (header.family === 'unspec') throw new ProxyProtocolError('PP2_BAD_FAMILY', 'not a TCP source');
      const { address, port } = header.source;
      const invite = getTlv(header.tlvs, Pp2Type.SFT_INVITE);
      return {
        address,
        port,
        source: this.#sourceKey(address),
        via: direct.address,
        ...(invite !== undefined ? { invite: utf8.decode(invite) } : {}),
      };
    } catch (e) {
      const code = (e as { code?: string }).code ?? 'PP2_ERROR';
      // Silent so far: a direct client that has not spoken yet (its first request decides).
      if (code === 'PP2_TIMEOUT' && socket.bytesRead === 0) return direct;
      if (code !== 'PP2_INCOMPLETE' || socket.bytesRead > 0) {
        if (this.#sampler.allow(direct.source, `proxy-header ${code}`)) {
          this.#log.warn({ event: 'proxy-header-refused', peer: peerText(direct), error: code });
        }
      }
      socket.destroy();
      return null;
    } finally {
      slot.reservation.release();
    }
  }

  #refuse(socket: Socket, peer: Peer, reason: string): void {
    if (this.#sampler.allow(peer.source, `refused ${reason}`)) {
      this.#log.warn({ event: 'connection-refused', peer: peerText(peer), source: peer.source, reason });
    }
    // Answer 1607 (or v4's BUSY) so a client reads "server error" instead of a bare reset.
    setTimeout(() => socket.destroy(), REFUSAL_GRACE_MS).unref();
    void pickProtocol(socket, REFUSAL_PEEK_MS).then((version) => {
      if (!socket.destroyed) socket.end(version === 4 ? BUSY_V4 : BUSY_V3);
    });
  }
}

export function peerText(peer: Pick<Peer, 'address' | 'port'>): string {
  return `${peer.address}:${peer.port}`;
}
