/**
 * A file name or path as messages show it: control characters (C0, DEL, C1) escaped, so a
 * name with a newline cannot split a message and one with ESC cannot drive the terminal.
 * \n, \r and \t as such, the rest as \xNN; a backslash is left as it is (paths keep theirs).
 */
const ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function shown(name: string): string {
  return name.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
