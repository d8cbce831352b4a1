/**
 * Output of the owner's commands (`files`, `invite`, `clients`): an aligned table for people
 * on a terminal, one JSON object per line for scripts (sizes in bytes, times in UTC as
 * stored). One implementation, so every listing reads the same.
 *
 * Cells and JSON strings hold names senders chose (and names stored by versions with looser
 * rules): neither ever carries a control, bidi formatting or separator character to the
 * terminal (lib/protocol/name-chars.ts). A table shows each as `\u{9B}`; JSON as `\u009b`,
 * the same value for a script.
 */
import { escapeUnsafe, escapeUnsafeJson } from '../lib/protocol/name-chars';

/** One JSON object per line (nothing at all for no rows); unsafe characters as \u escapes. */
export function jsonLines(rows: readonly unknown[]): string {
  return rows.map((r) => escapeUnsafeJson(JSON.stringify(r))).join('\n') + (rows.length ? '\n' : '');
}

/**
 * Columns padded to their widest cell, two spaces apart; the columns in `right` right-aligned.
 * Every cell is shown with its unsafe characters escaped.
 */
export function formatTable(
  head: readonly string[],
  rawRows: readonly string[][],
  right: readonly number[] = [],
): string {
  const rows = rawRows.map((r) => r.map(escapeUnsafe));
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.includes(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(head), ...rows.map(line)].join('\n')}\n`;
}

/** "2026-01-01 01:00:00" in the local time zone (the stored text if it is not a date). */
export function localTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
    `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`
  );
}

/** Whether a command prints a table: on a terminal, unless --json asked for JSON lines. */
export function wantsTable(json: boolean, tty = process.stdout.isTTY === true): boolean {
  return tty && !json;
}
