/**
 * What one bench run found: the table rows, the targets with pass or miss, and the functional
 * failures. One value per run, handed to every section (no module-level state), printed once.
 */

export type Row = [section: string, measure: string, value: string, note: string];

export interface TargetResult {
  target: string;
  value: string;
  /** null: not measured, or quick mode (too small to judge). */
  pass: boolean | null;
}

/** A number for the table, or "-" when it was not measured. */
export const fixed = (n: number | null | undefined, digits = 0): string =>
  typeof n === 'number' && Number.isFinite(n) ? n.toFixed(digits) : '-';

/** A ratio as a percentage for the table, or "-". */
export const pct = (r: number | null | undefined): string =>
  typeof r === 'number' && Number.isFinite(r) ? `${(r * 100).toFixed(0)}%` : '-';

export class BenchReport {
  readonly #rows: Row[] = [];
  readonly #targets: TargetResult[] = [];
  readonly #failures: string[] = [];
  readonly #log: (text: string) => void;

  constructor(log: (text: string) => void) {
    this.#log = log;
  }

  get targets(): readonly TargetResult[] {
    return this.#targets;
  }

  get failures(): readonly string[] {
    return this.#failures;
  }

  row(section: string, measure: string, value: string, note = ''): void {
    this.#rows.push([section, measure, value, note]);
  }

  target(t: TargetResult): void {
    this.#targets.push(t);
  }

  fail(what: string): void {
    this.#failures.push(what);
  }

  /** Runs one measured step; a functional failure is recorded and the bench goes on. */
  async step<T>(what: string, fn: () => Promise<T>): Promise<T | undefined> {
    this.#log(`${what} ...`);
    const t0 = performance.now();
    try {
      const r = await fn();
      this.#log(`${what}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      return r;
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.#failures.push(`${what}: ${msg}`);
      this.#log(`${what}: FAILED: ${msg}`);
      return undefined;
    }
  }

  /** The table, the targets and the failures, for stdout. */
  format(heading: string, quick: boolean): string {
    const rows = this.#rows;
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 4));
    const line = (r: string[]) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd();
    const out = [
      heading,
      line(['section', 'measure', 'value', 'note']),
      line(widths.map((w) => '-'.repeat(w))),
    ];
    for (const r of rows) out.push(line(r));
    if (this.#targets.length) {
      out.push(
        quick
          ? '\nTargets (quick mode: too small to judge; only a full run, `npm run bench`, says pass or miss):'
          : '\nTargets:',
      );
      for (const t of this.#targets) {
        out.push(
          `  ${quick || t.pass === null ? 'n/a ' : t.pass ? 'PASS' : 'MISS'}  ${t.target}: ${t.value}`,
        );
      }
    }
    if (this.#failures.length) {
      out.push('\nFunctional failures:');
      for (const x of this.#failures) out.push(`  ${x}`);
    }
    return out.join('\n');
  }
}
