/**
 * When `npm start` restarts a part that died: after a delay that doubles with each recent
 * death (0.5 s, 1 s, 2 s ... at most 10 s), and not at all once it died `limit` times within
 * `windowMs` (then it keeps dying, and npm start stops everything instead of looping).
 */
export const RESTART_LIMIT = 5;
export const RESTART_WINDOW_MS = 60_000;
const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

export type RestartDecision =
  | { restart: true; delayMs: number; recent: number }
  | { restart: false; recent: number };

export class RestartPolicy {
  readonly #deaths: number[] = [];
  readonly #limit: number;
  readonly #windowMs: number;

  constructor(opts: { limit?: number; windowMs?: number } = {}) {
    this.#limit = opts.limit ?? RESTART_LIMIT;
    this.#windowMs = opts.windowMs ?? RESTART_WINDOW_MS;
  }

  /** Records a death at `now` (ms) and says what to do about it. */
  died(now: number): RestartDecision {
    this.#deaths.push(now);
    while (this.#deaths.length > 0 && this.#deaths[0]! <= now - this.#windowMs) this.#deaths.shift();
    const recent = this.#deaths.length;
    if (recent >= this.#limit) return { restart: false, recent };
    return { restart: true, delayMs: Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** (recent - 1)), recent };
  }
}
