/**
 * The upload runs of one bench, by protocol then by size, and what is read off them: the
 * median, the range, a peak. Shared by the upload sections and the memory section.
 */
import { fixed } from './report';
import type { BrowserRun, CliRun, Protocol } from './uploads';

export const PROTOCOLS: readonly Protocol[] = [3, 4];

/** Runs by protocol, then by size (MiB), in the order made. */
export type Runs<R> = Record<Protocol, Record<number, R[]>>;
export type CliRuns = Runs<CliRun>;
export type BrowserRuns = Runs<BrowserRun>;

export const median = (xs: readonly number[]): number | undefined => {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1]! + s[m]!) / 2;
};

export const numbers = (xs: readonly (number | null | undefined)[]): number[] =>
  xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));

/** "a-b over n runs" (or the one figure). */
export function range(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return '-';
  if (xs.length === 1) return `1 run`;
  return `${fixed(Math.min(...xs), digits)}-${fixed(Math.max(...xs), digits)} over ${xs.length} runs`;
}

/** The largest value of `pick` among the runs of one size: a peak is a peak. */
export function peakOf<R>(runs: readonly R[] | undefined, pick: (r: R) => number | null | undefined) {
  const xs = numbers((runs ?? []).map(pick));
  return xs.length ? Math.max(...xs) : undefined;
}
