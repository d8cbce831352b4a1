/**
 * GET /healthz: is the file server reachable? Anyone who reaches the bridge can ask, as
 * often as it likes, so a request never opens a connection of its own: one probe at a time
 * (every request meanwhile waits for that one), and its result is reused for `cacheMs`.
 * However hard /healthz is hammered, the file server sees at most one probe connection per
 * cache period.
 */
import { connect } from 'node:net';
import type { HostPort } from './config';

export interface HealthOptions {
  /** Give up on the target after this long (counts as unreachable). */
  timeoutMs: number;
  /** Reuse a result for this long; 0 reuses only the probe in flight. */
  cacheMs: number;
  /** For tests: the probe itself (default: a TCP connect to the target). */
  probe?: (target: HostPort, timeoutMs: number) => Promise<boolean>;
  now?: () => number;
}

/** Connects to the target and hangs up at once: true if it accepted within `timeoutMs`. */
export function tcpProbe(target: HostPort, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(target.port, target.host);
    const timer = setTimeout(() => done(false), timeoutMs);
    function done(ok: boolean) {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    }
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

export class HealthCheck {
  readonly #target: HostPort;
  readonly #opts: Required<HealthOptions>;
  #inFlight: Promise<boolean> | null = null;
  #last: { ok: boolean; at: number } | null = null;
  #probes = 0;

  constructor(target: HostPort, opts: HealthOptions) {
    this.#target = target;
    this.#opts = { probe: tcpProbe, now: Date.now, ...opts };
  }

  /** Probes started so far (what the file server saw). */
  get probes(): number {
    return this.#probes;
  }

  /** Whether the target is reachable: the cached result, the probe in flight, or a new probe. */
  check(): Promise<boolean> {
    const last = this.#last;
    if (last && this.#opts.now() - last.at < this.#opts.cacheMs) return Promise.resolve(last.ok);
    if (this.#inFlight) return this.#inFlight;
    this.#probes += 1;
    this.#inFlight = this.#opts
      .probe(this.#target, this.#opts.timeoutMs)
      .catch(() => false)
      .then((ok) => {
        // Cached from when the probe finished: a slow probe does not shorten the next gap.
        this.#last = { ok, at: this.#opts.now() };
        this.#inFlight = null;
        return ok;
      });
    return this.#inFlight;
  }
}
