/**
 * Per-source and per-client limits on what strangers can make the server do (issue 14), one
 * instance per file server. Sources are sourceKey()s (IPv4 address, IPv6 /64).
 *
 * 1027 (a fresh AES key) is the price of one CBC padding-oracle query: a connection whose
 * 1028 fails to decrypt loses its key (file-receiver.ts), so every further query needs a
 * new 1027. So 1027s cost one token from the source's bucket, and a failed decrypt costs the
 * source a penalty on top. A client whose keys keep failing (its owner's never do) is under
 * attack: from then on every 1027 for it costs the penalty up front. Only the source's own
 * bucket is ever charged, so a stranger can slow itself down but never spend the owner's tokens.
 */
import { KeyedTokenBucket } from '../platform/rate-limit';
import { DEFAULT_HANDSHAKES_PER_MINUTE, DEFAULT_MAX_CLIENTS, type ServerConfig } from './config';

type LimitConfig = Pick<
  ServerConfig,
  'reconnectPerMinute' | 'clientDecryptFailuresPerHour' | 'registerPerMinute' | 'handshakesPerMinute'
> &
  Partial<Pick<ServerConfig, 'maxClients'>>;

export class PeerLimits {
  readonly #reconnects: KeyedTokenBucket;
  readonly #failures: KeyedTokenBucket;
  readonly #registrations: KeyedTokenBucket;
  readonly #handshakes: KeyedTokenBucket;
  /** Tokens a failed decrypt (or a 1027 for a client under attack) costs its source. */
  readonly #penalty: number;

  constructor(config: LimitConfig) {
    const perMinute = (n: number) => ({ rate: n / 60, burst: n });
    this.#reconnects = new KeyedTokenBucket(perMinute(config.reconnectPerMinute));
    this.#registrations = new KeyedTokenBucket(perMinute(config.registerPerMinute));
    this.#handshakes = new KeyedTokenBucket(
      perMinute(config.handshakesPerMinute ?? DEFAULT_HANDSHAKES_PER_MINUTE),
    );
    // One bucket per client whose key failed in the last hours, room for every client there
    // can be: past maxKeys, new keys share one overflow bucket, and a client not tracked is
    // judged by it. With the default 10,000, an attacker's own 10,010 clients (a registration
    // and a failed 1028 each, from a few sources) emptied it, and from then on every other
    // client read as under attack: each of its owner's 1027s cost 1 + the penalty.
    this.#failures = new KeyedTokenBucket({
      rate: config.clientDecryptFailuresPerHour / 3600,
      burst: config.clientDecryptFailuresPerHour,
      maxKeys: config.maxClients ?? DEFAULT_MAX_CLIENTS,
    });
    this.#penalty = Math.max(1, Math.ceil(config.reconnectPerMinute / 2));
  }

  /** A 1027 from `source` for client `clientHex`: false when the source must wait. */
  takeReconnect(source: string, clientHex: string): boolean {
    const underAttack = this.#failures.retryAfterMs(clientHex) > 0;
    return this.#reconnects.take(source, underAttack ? 1 + this.#penalty : 1);
  }

  /** A key of client `clientHex` was lost to a failed 1028 on a connection from `source`. */
  decryptFailed(source: string, clientHex: string): void {
    this.#failures.take(clientHex);
    // Takes up to the penalty, as much as is left (take() is all or nothing).
    let left = this.#penalty;
    for (let c = this.#penalty; c >= 1 && left > 0; c >>= 1) {
      while (c <= left && this.#reconnects.take(source, c)) left -= c;
    }
  }

  /** A v4 ClientHello from `source`: false when the source must wait (answered before any crypto). */
  takeHandshake(source: string): boolean {
    return this.#handshakes.take(source);
  }

  /** A 1025 from `source`: false when the source must wait. */
  takeRegistration(source: string): boolean {
    return this.#registrations.take(source);
  }
}
