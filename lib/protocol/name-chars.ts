/**
 * Characters a name must not carry to a person's screen: what protocol v4 refuses in client
 * and file names (nameProblem), and what the server's owner output (tables, JSON lines, log
 * lines) shows escaped, for names stored before the rule or arriving another way. Pure.
 *
 * - U+0000-U+001F, U+007F-U+009F: the C0 controls, DEL and the C1 controls (a terminal that
 *   honours C1 runs U+009B as CSI and U+009D as OSC, as it runs ESC [ and ESC ]).
 * - U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069: Unicode's Bidi_Control characters
 *   (marks, embeddings, overrides, isolates): U+202E makes "invoice\u202Etxt.exe" read as
 *   "invoiceexe.txt", and any of them can move a name's text, or a line's, out of order.
 * - U+2028, U+2029: the line and paragraph separators (a new line for some programs).
 * - U+FEFF: the byte order mark, invisible inside a name.
 *
 * Other invisible characters (U+200B-U+200D, U+2060) are allowed: they reorder nothing and
 * U+200C/U+200D are needed by some scripts and emoji.
 */

/** The ranges above, inclusive (docs/PROTOCOL.md lists the same). */
export const UNSAFE_NAME_RANGES: readonly (readonly [number, number])[] = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x061c, 0x061c],
  [0x200e, 0x200f],
  [0x2028, 0x202e],
  [0x2066, 0x2069],
  [0xfeff, 0xfeff],
];

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** The unsafe characters JSON.stringify leaves raw: all but C0 (it escapes those in strings, and a line's own newline must stay). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g;

const hex = (c: string, digits: number) => c.charCodeAt(0).toString(16).toUpperCase().padStart(digits, '0');

/** The first unsafe character of `text` as "U+009B", or null when there is none. */
export function unsafeNameChar(text: string): string | null {
  const m = UNSAFE.exec(text);
  return m ? `U+${hex(m[0], 4)}` : null;
}

/** `text` with each unsafe character replaced by `by`, or by what `by` makes of it (the page's file names: `_`; the CLI's shown()). */
export function replaceUnsafe(text: string, by: string | ((c: string) => string)): string {
  if (!UNSAFE.test(text)) return text;
  return typeof by === 'string' ? text.replace(UNSAFE_ALL, by) : text.replace(UNSAFE_ALL, (c) => by(c));
}

/**
 * `text` for a terminal: each unsafe character as `\u{9B}` (its code point in hex), the rest
 * as it is. For people, not reversible: a name may spell `\u{9B}` itself (JSON output is exact).
 */
export function escapeUnsafe(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, (c) => `\\u{${hex(c, 1)}}`) : text;
}

/**
 * JSON text (JSON.stringify's, one line or several) with each unsafe character JSON.stringify
 * leaves raw written as a `\u009b` escape: the same JSON value, nothing raw for a terminal.
 * Those characters can only sit inside strings, where the escape means the same character;
 * C0 controls are left alone (JSON.stringify escaped any inside a string; outside, a newline
 * ends a line).
 */
export function escapeUnsafeJson(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => `\\u${hex(c, 4).toLowerCase()}`);
}
