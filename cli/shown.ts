/**
 * A file name or path as the CLI's messages show it: the characters lib/protocol/name-chars.ts
 * calls unsafe (controls, bidi formatting, separators) escaped, so a name with a newline
 * cannot split a message and one with ESC cannot drive the terminal. \n, \r and \t as such,
 * other controls as \xNN, the rest as \u{...}; a backslash is left as it is (paths keep theirs).
 */
import { replaceUnsafe } from '../lib/protocol/name-chars';

const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

const escapeOne = (c: string) =>
  ESCAPES[c] ??
  (c.charCodeAt(0) <= 0xff
    ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
    : `\\u{${c.charCodeAt(0).toString(16).toUpperCase()}}`);

export function shown(name: string): string {
  return replaceUnsafe(name, escapeOne);
}
