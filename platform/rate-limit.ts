/**
 * Token buckets: `rate` tokens a second refill up to `burst`; an action costs tokens and is
 * refused when too few are left. KeyedTokenBucket keeps one bucket per source key with bounded
 * memory: a bucket that has refilled to `burst` is indistinguishable from a new one and is
 * dropped, and at most `maxKeys` buckets are tracked; past that, new keys share one overflow
 * bucket, so an attacker with more addresses than `maxKeys` gains one bucket's rate, not one per
 * address (and newcomers still get a share, as sshd's "permissive" overflow mode).
 */

import { LimitError } from './limit-error';

export type Clock = () => number;

export interface TokenBucketOptions {
  /** Tokens added per second; more than 0. */
  rate: number;
  /** Capacity, and the tokens a new bucket starts with; at least 1. */
  burst: number;
  /** Milliseconds, monotonic; default performance.now. Tests inject their own. */
  now?: Clock;
}

function checkOptions(o: TokenBucketOptions): void {
  if (!(o.rate > 0) || !Number.isFinite(o.rate)) {
    throw new LimitError('LIMIT_BAD_OPTION', `rate must be a positive number, not ${o.rate}`);
  }
  if (!(o.burst >= 1) || !Number.isFinite(o.burst)) {
    throw new LimitError('LIMIT_BAD_OPTION', `burst must be at least 1, not ${o.burst}`);
  }
}

const defaultClock: Clock = () => performance.now();

/** One bucket. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #now: Clock;
  #tokens: number;
  #at: number;

  constructor(options: TokenBucketOptions) {
    checkOptions(options);
    this.#rate = options.rate;
    this.#burst = options.burst;
    this.#now = options.now ?? defaultClock;
    this.#tokens = options.burst;
    this.#at = this.#now();
  }

  #refill(): void {
    const now = this.#now();
    // A clock that steps back refills nothing rather than draining the bucket.
    const elapsed = Math.max(0, now - this.#at);
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#rate) / 1000);
    this.#at = Math.max(now, this.#at);
  }

  /** Takes `cost` tokens if there are that many; false (and nothing taken) otherwise. */
  take(cost = 1): boolean {
    this.#refill();
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens are there: 0 if now, Infinity if `cost` exceeds `burst`. */
  retryAfterMs(cost = 1): number {
    if (cost > this.#burst) return Number.POSITIVE_INFINITY;
    this.#refill();
    return this.#tokens >= cost ? 0 : Math.ceil(((cost - this.#tokens) * 1000) / this.#rate);
  }

  /** Refilled to `burst`: forgetting it loses nothing. */
  get full(): boolean {
    this.#refill();
    return this.#tokens >= this.#burst;
  }
}

export interface KeyedTokenBucketOptions extends TokenBucketOptions {
  /** Most buckets tracked at once (default 10,000); beyond, new keys share an overflow bucket. */
  maxKeys?: number;
}

export const DEFAULT_MAX_KEYS = 10_000;
/** Buckets looked at for idleness on each take: enough to keep up, constant per call. */
const SWEEP_PER_TAKE = 2;

/** One bucket per key (a sourceKey()), least recently used first in the Map. */
export class KeyedTokenBucket {
  readonly #options: TokenBucketOptions;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #overflow: TokenBucket;
  #overflowed = 0;

  constructor(options: KeyedTokenBucketOptions) {
    checkOptions(options);
    const maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new LimitError('LIMIT_BAD_OPTION', `maxKeys must be a positive integer, not ${maxKeys}`);
    }
    this.#options = { rate: options.rate, burst: options.burst, now: options.now ?? defaultClock };
    this.#maxKeys = maxKeys;
    this.#overflow = new TokenBucket(this.#options);
  }

  /** Takes `cost` tokens from the key's bucket; false when it has too few. */
  take(key: string, cost = 1): boolean {
    this.#sweep(SWEEP_PER_TAKE);
    let bucket = this.#buckets.get(key);
    if (bucket) {
      // Move to the back: the front of the Map is the least recently used.
      this.#buckets.delete(key);
      this.#buckets.set(key, bucket);
    } else {
      if (this.#buckets.size >= this.#maxKeys) this.#sweep(Number.POSITIVE_INFINITY);
      if (this.#buckets.size >= this.#maxKeys) {
        this.#overflowed++;
        return this.#overflow.take(cost);
      }
      bucket = new TokenBucket(this.#options);
      this.#buckets.set(key, bucket);
    }
    return bucket.take(cost);
  }

  /** Milliseconds until the key could take `cost` tokens (0: now). Does not track the key. */
  retryAfterMs(key: string, cost = 1): number {
    const bucket = this.#buckets.get(key);
    if (bucket) return bucket.retryAfterMs(cost);
    if (this.#buckets.size >= this.#maxKeys) return this.#overflow.retryAfterMs(cost);
    return cost > this.#options.burst ? Number.POSITIVE_INFINITY : 0;
  }

  /** Keys tracked now (at most maxKeys). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes charged to the shared overflow bucket so far (a sign of many sources at once). */
  get overflowed(): number {
    return this.#overflowed;
  }

  /** Drops full buckets from the least recently used end, stopping at the first busy one. */
  #sweep(limit: number): void {
    let looked = 0;
    for (const [key, bucket] of this.#buckets) {
      if (looked++ >= limit || !bucket.full) return;
      this.#buckets.delete(key);
    }
  }
}
