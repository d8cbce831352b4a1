/**
 * Limits on TCP connections that have not completed a WebSocket upgrade yet (like sshd's
 * MaxStartups and LoginGraceTime): a slowloris that trickles an HTTP request, or never
 * finishes TLS, holds a socket and a file descriptor without ever reaching the relay
 * limits. Counted from the raw TCP connection ('connection', before TLS) until the upgrade
 * completes or the socket closes:
 * - per source (IPv4 address, IPv6 /64): a connection past `maxPerSource` is dropped at once;
 * - in total: a connection past `maxTotal` is dropped at once;
 * - each one is destroyed `timeoutMs` after it connected unless it upgraded by then, whatever
 *   it sent meanwhile (Node's own headersTimeout is only checked every few seconds).
 * Behind a trusted proxy every connection comes from the proxy's address, so only the total
 * applies to the proxy's addresses (`exempt`: the proxy limits its clients itself); a client
 * beside the proxy is still held to the per-source cap.
 */
import type { Socket } from 'node:net';
import { sourceKey } from '../platform/source-key';
import type { Logger } from './log';

export interface UpgradeLimitOptions {
  maxTotal: number;
  /** 0: no per-source cap. */
  maxPerSource: number;
  /** Addresses the per-source cap does not apply to (a trusted proxy, whose clients all share its address). */
  exempt?: (address: string | undefined) => boolean;
  timeoutMs: number;
}

/** At most one `pending-refused` log line per this long, with the count since the last one. */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

interface Entry {
  source: string;
  timer: NodeJS.Timeout;
}

/** Remote address and port: the same for a TCP socket and the TLS socket over it. */
type Peer = Pick<Socket, 'remoteAddress' | 'remotePort'>;

const peerKey = (s: Peer) => `${s.remoteAddress}|${s.remotePort}`;

export class PendingUpgrades {
  readonly #opts: UpgradeLimitOptions;
  readonly #log: Logger;
  readonly #pending = new Map<string, Entry>();
  readonly #perSource = new Map<string, number>();
  #refused = 0;
  #refusedSinceLog = 0;
  #lastLog = 0;

  constructor(opts: UpgradeLimitOptions, log: Logger) {
    this.#opts = opts;
    this.#log = log;
  }

  /** Connections not yet upgraded. */
  get size(): number {
    return this.#pending.size;
  }

  /** Connections dropped at once for a cap so far. */
  get refused(): number {
    return this.#refused;
  }

  /** A new TCP connection: dropped if over a cap, else timed until it upgrades or closes. */
  admit(socket: Socket): void {
    const key = peerKey(socket);
    // A socket already gone has no address: refuse it rather than count it under a shared key.
    let source = 'unknown';
    let known = true;
    try {
      source = sourceKey(socket.remoteAddress);
    } catch {
      known = false;
    }
    const count = this.#perSource.get(source) ?? 0;
    const over =
      !known ||
      this.#pending.size >= this.#opts.maxTotal ||
      (this.#opts.maxPerSource > 0 &&
        count >= this.#opts.maxPerSource &&
        !this.#opts.exempt?.(socket.remoteAddress));
    if (over) {
      this.#refuse(source);
      socket.destroy();
      return;
    }
    const entry: Entry = { source, timer: setTimeout(() => socket.destroy(), this.#opts.timeoutMs) };
    this.#pending.set(key, entry);
    this.#perSource.set(source, count + 1);
    socket.once('close', () => this.#release(key, entry));
  }

  /** The connection completed its upgrade (`socket` may be the TLS socket over the counted one). */
  upgraded(socket: Peer): void {
    const key = peerKey(socket);
    const entry = this.#pending.get(key);
    if (entry) this.#release(key, entry);
  }

  #release(key: string, entry: Entry): void {
    if (this.#pending.get(key) !== entry) return;
    clearTimeout(entry.timer);
    this.#pending.delete(key);
    const left = (this.#perSource.get(entry.source) ?? 1) - 1;
    if (left <= 0) this.#perSource.delete(entry.source);
    else this.#perSource.set(entry.source, left);
  }

  /** Counts a refusal; logs a summary at most every REFUSAL_LOG_INTERVAL_MS (the attacker sets the rate). */
  #refuse(source: string): void {
    this.#refused += 1;
    this.#refusedSinceLog += 1;
    const now = Date.now();
    if (now - this.#lastLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.#log.warn(
      {
        event: 'pending-refused',
        refused: this.#refusedSinceLog,
        lastSource: source,
        pending: this.#pending.size,
      },
      'connections refused before their upgrade',
    );
    this.#refusedSinceLog = 0;
    this.#lastLog = now;
  }
}
