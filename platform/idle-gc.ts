/**
 * A full garbage collection once a burst of large buffers has been let go and things are
 * quiet. V8 collects when JavaScript allocates; an idle bridge whose attackers have left
 * allocates nothing, so the 34 MiB of their unfinished WebSocket messages stayed in RSS for as
 * long as it stayed idle (measured: 86 -> 123 -> 112 MiB, 25 s later still 112). After one
 * collection the same run went back to 77 MiB (with MALLOC_ARENA_MAX=2: allocator-env.ts).
 *
 * `gc` comes from --expose-gc, set at run time when node was not started with it (V8 reads
 * the flag when a context is created, so a new vm context carries the function).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | null | undefined;

function gcFunction(): (() => void) | null {
  if (collect !== undefined) return collect;
  const exposed = (globalThis as { gc?: unknown }).gc;
  if (typeof exposed === 'function') collect = exposed as () => void;
  else {
    try {
      setFlagsFromString('--expose-gc');
      const fn = runInNewContext('gc') as unknown;
      collect = typeof fn === 'function' ? (fn as () => void) : null;
    } catch {
      collect = null;
    }
  }
  return collect;
}

export interface IdleCollectorOptions {
  /** Bytes let go since the last collection that make one worth it. */
  minBytes: number;
  /** Quiet time (no further release) before collecting; also the least time between two. */
  delayMs: number;
}

/**
 * Counts bytes let go (`released`) and, once they pass `minBytes`, collects after `delayMs`
 * with no further release: at most one collection (a few ms on a small heap) per `delayMs`,
 * whatever a peer does.
 */
export class IdleCollector {
  readonly #options: IdleCollectorOptions;
  #pending = 0;
  #timer: NodeJS.Timeout | null = null;
  #collections = 0;

  constructor(options: IdleCollectorOptions) {
    this.#options = options;
  }

  /** How many collections ran (tests). */
  get collections(): number {
    return this.#collections;
  }

  released(bytes: number): void {
    this.#pending += bytes;
    if (this.#pending < this.#options.minBytes) return;
    if (this.#timer) this.#timer.refresh();
    else {
      this.#timer = setTimeout(() => this.#collect(), this.#options.delayMs);
      this.#timer.unref();
    }
  }

  #collect(): void {
    this.#timer = null;
    this.#pending = 0;
    const gc = gcFunction();
    if (!gc) return;
    gc();
    this.#collections++;
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
