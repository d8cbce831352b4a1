/**
 * The file name the server stores for a client's name text: shared by the server (which
 * stores under it) and the page (which shows it before sending). Pure string functions,
 * runtime-neutral. The server may still add " (n)" when the name is taken.
 */

/** Longest stored name (well under the 255-byte limit of common file systems, room for " (n)"). */
export const MAX_STORED_NAME_LENGTH = 120;
/** Longest extension kept when a name is shortened. */
const MAX_EXTENSION_LENGTH = 16;
/** Name used when nothing usable is left of the client's text. */
const FALLBACK_NAME = 'file';
/** Device names Windows reserves in any folder, with or without an extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)$/i;
/** Characters kept as they are; everything else becomes '_'. Excludes / \ : * ? " < > | and controls. */
const SAFE_CHAR = /[A-Za-z0-9 ._\-+=,;@#$%&'()[\]{}!~^]/;

/**
 * A safe file name for `name`: its last path component (either separator), unsafe
 * characters replaced by '_', no trailing dots or spaces, no leading dot, no reserved
 * device name, at most MAX_STORED_NAME_LENGTH characters keeping the extension.
 */
export function sanitizeFileName(name: string): string {
  const parts = name.split(/[/\\]/).filter((p) => p !== '');
  let base = parts.length ? parts[parts.length - 1]! : '';
  let out = '';
  for (const ch of base) out += SAFE_CHAR.test(ch) ? ch : '_';
  base = out.replace(/[. ]+$/, '').replace(/^ +/, '');
  if (base.startsWith('.')) base = `_${base}`;
  const dot = base.indexOf('.');
  const stem = dot < 0 ? base : base.slice(0, dot);
  if (WINDOWS_RESERVED.test(stem.trimEnd())) base = `_${base}`;
  if (base.length > MAX_STORED_NAME_LENGTH) base = shorten(base, MAX_STORED_NAME_LENGTH);
  return base === '' ? FALLBACK_NAME : base;
}

/** [stem, extension] of a name; no extension when it is missing or longer than 16. */
export function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || name.length - dot > MAX_EXTENSION_LENGTH) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

function shorten(name: string, max: number): string {
  const [stem, ext] = splitExtension(name);
  return (stem.slice(0, max - ext.length).replace(/[. ]+$/, '') || FALLBACK_NAME) + ext;
}
