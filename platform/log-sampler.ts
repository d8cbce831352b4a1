/**
 * Log volume is the peer's to choose (one log line per request: a flood of bad requests wrote
 * 78 MB in a minute). LogSampler lets through, per source, a rate of lines of one kind (same
 * request code, answer and error) and a rate of lines in all, and counts the rest; every
 * `summaryMs` at most it writes one `{"event":"log-suppressed","source":...,"dropped":N}` line
 * per source whose lines were dropped. Memory is bounded: the buckets are KeyedTokenBuckets,
 * and past `maxSources` sources with drops waiting, drops are counted under the source "*".
 */
import type { Logger } from './log';
import { type Clock, KeyedTokenBucket } from './rate-limit';

export interface LogSamplerOptions {
  /** Lines per second one source may write for one kind; the burst is five seconds of it. */
  rate: number;
  /** Where the summaries go. */
  log: Logger;
  /** At most one summary per source this often (default 5 s). */
  summaryMs?: number;
  /** Sources with drops waiting for their summary (default 1,000). */
  maxSources?: number;
  now?: Clock;
}

export const DEFAULT_SUMMARY_MS = 5_000;
/** A source's lines in all, as a multiple of the rate per kind. */
const ALL_KINDS_FACTOR = 4;
const BURST_SECONDS = 5;

export class LogSampler {
  readonly #kinds: KeyedTokenBucket;
  readonly #sources: KeyedTokenBucket;
  readonly #log: Logger;
  readonly #summaryMs: number;
  readonly #maxSources: number;
  readonly #dropped = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #total = 0;

  constructor(options: LogSamplerOptions) {
    const { rate, now } = options;
    this.#kinds = new KeyedTokenBucket({ rate, burst: rate * BURST_SECONDS, now });
    const all = rate * ALL_KINDS_FACTOR;
    this.#sources = new KeyedTokenBucket({ rate: all, burst: all * BURST_SECONDS, now });
    this.#log = options.log;
    this.#summaryMs = options.summaryMs ?? DEFAULT_SUMMARY_MS;
    this.#maxSources = options.maxSources ?? 1_000;
  }

  /** True when a line of `kind` caused by `source` may be written; false counts it as dropped. */
  allow(source: string, kind: string): boolean {
    if (this.#kinds.take(`${source}\n${kind}`) && this.#sources.take(source)) return true;
    const key = this.#dropped.has(source) || this.#dropped.size < this.#maxSources ? source : '*';
    this.#dropped.set(key, (this.#dropped.get(key) ?? 0) + 1);
    this.#total++;
    this.#timer ??= setTimeout(() => this.flush(), this.#summaryMs);
    this.#timer.unref?.();
    return false;
  }

  /** Lines dropped so far. */
  get dropped(): number {
    return this.#total;
  }

  /** Writes the waiting summaries now (also on shutdown). */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    for (const [source, dropped] of this.#dropped) {
      this.#log.warn({ event: 'log-suppressed', source, dropped });
    }
    this.#dropped.clear();
  }
}
