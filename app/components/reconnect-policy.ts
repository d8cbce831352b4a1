/**
 * When the page reconnects on its own. Bridges restart and laptops change networks, so a
 * connection that is unreachable or lost is tried again with growing pauses; every other
 * problem waits for the person, unless the worker said it may pass by itself (`retry`).
 */
import type { ConnectionProblem } from '@/browser/upload-protocol';

/** Seconds between automatic reconnect attempts while the bridge is unreachable. */
export const RETRY_DELAYS_S = [2, 4, 8, 15];
/** A connection that was lost is first tried again almost at once (the usual cause is a restart). */
export const FIRST_RETRY_AFTER_LOST_S = 0.5;

/**
 * Seconds until the next automatic attempt after `problem`, the `failures`-th in a row
 * (0 for the first), or undefined when the page should not try on its own: only a stored
 * identity is retried, and never one being imported (a bad me.info must not loop).
 */
export function reconnectDelay(
  problem: ConnectionProblem,
  failures: number,
  opts: { hasIdentity: boolean; importing: boolean; retry?: boolean },
): number | undefined {
  const passing =
    problem === 'unreachable' || problem === 'lost' || problem === 'stopped-answering' || opts.retry === true;
  if (!passing || !opts.hasIdentity || opts.importing) {
    return undefined;
  }
  if (problem === 'lost' && failures === 0) return FIRST_RETRY_AFTER_LOST_S;
  return RETRY_DELAYS_S[Math.min(failures, RETRY_DELAYS_S.length - 1)]!;
}
