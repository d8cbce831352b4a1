/**
 * Runtime-neutral Base64 (RFC 4648 standard alphabet, `=` padding) and hex codecs.
 * Hand-written over Uint8Array so they need neither Buffer nor atob/btoa and handle
 * inputs of any size without building huge argument lists.
 */
import { CryptoError } from './errors';

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Char code -> 6-bit value; -1 for characters outside the alphabet. */
const B64_DECODE = new Int16Array(128).fill(-1);
for (let i = 0; i < B64_ALPHABET.length; i++) B64_DECODE[B64_ALPHABET.charCodeAt(i)] = i;
const B64_CODES = Uint8Array.from(B64_ALPHABET, (ch) => ch.charCodeAt(0));
const PAD = 0x3d; // '='
/** Output characters converted to a string per String.fromCharCode call (stays far below arg limits). */
const STRING_CHUNK = 0x2000;

/** Turns char codes into a string a slice at a time. */
function codesToString(codes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < codes.length; i += STRING_CHUNK) {
    out += String.fromCharCode(...codes.subarray(i, i + STRING_CHUNK));
  }
  return out;
}

/** Base64 with padding, no line breaks. Each 3 bytes -> 4 characters. */
export function bytesToBase64(bytes: Uint8Array): string {
  const n = bytes.length;
  const out = new Uint8Array(Math.ceil(n / 3) * 4);
  let o = 0;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out[o++] = B64_CODES[v >>> 18]!;
    out[o++] = B64_CODES[(v >>> 12) & 63]!;
    out[o++] = B64_CODES[(v >>> 6) & 63]!;
    out[o++] = B64_CODES[v & 63]!;
  }
  const rest = n - i;
  if (rest > 0) {
    const v = (bytes[i]! << 16) | (rest === 2 ? bytes[i + 1]! << 8 : 0);
    out[o++] = B64_CODES[v >>> 18]!;
    out[o++] = B64_CODES[(v >>> 12) & 63]!;
    out[o++] = rest === 2 ? B64_CODES[(v >>> 6) & 63]! : PAD;
    out[o++] = PAD;
  }
  return codesToString(out);
}

/** True for the whitespace Base64 text may be wrapped with (space, tab, CR, LF). */
function isBase64Whitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0d || code === 0x0a;
}

/**
 * Decodes Base64, ignoring whitespace anywhere (wrapped lines). Padding is optional but,
 * if present, only at the end. Throws CRYPTO_ERR_BAD_ENCODING on any other character.
 */
export function base64ToBytes(text: string): Uint8Array {
  // First pass: collect 6-bit values, validating characters and padding placement.
  const values = new Uint8Array(text.length);
  let count = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isBase64Whitespace(code)) continue;
    if (code === PAD) {
      padding++;
      continue;
    }
    const v = code < 128 ? B64_DECODE[code]! : -1;
    if (v < 0 || padding > 0) {
      const what = v < 0 ? `invalid character ${JSON.stringify(text[i])}` : "data after '=' padding";
      throw new CryptoError('CRYPTO_ERR_BAD_ENCODING', `Base64 text has ${what} at position ${i}.`);
    }
    values[count++] = v;
  }
  const rest = count % 4;
  if (rest === 1 || padding > 2 || (padding > 0 && (count + padding) % 4 !== 0)) {
    throw new CryptoError('CRYPTO_ERR_BAD_ENCODING', 'Base64 text has a wrong length or wrong padding.');
  }
  // Second pass: each 4 values -> 3 bytes; a final 2 or 3 values -> 1 or 2 bytes.
  const out = new Uint8Array(Math.floor(count / 4) * 3 + (rest === 0 ? 0 : rest - 1));
  let o = 0;
  let i = 0;
  for (; i + 3 < count; i += 4) {
    const v = (values[i]! << 18) | (values[i + 1]! << 12) | (values[i + 2]! << 6) | values[i + 3]!;
    out[o++] = v >>> 16;
    out[o++] = (v >>> 8) & 0xff;
    out[o++] = v & 0xff;
  }
  if (rest >= 2) {
    const v = (values[i]! << 18) | (values[i + 1]! << 12) | (rest === 3 ? values[i + 2]! << 6 : 0);
    out[o++] = v >>> 16;
    if (rest === 3) out[o++] = (v >>> 8) & 0xff;
  }
  return out;
}

const HEX_DIGITS = '0123456789abcdef';

/** Lowercase hex, two digits per byte. */
export function bytesToHex(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    out += HEX_DIGITS[b >>> 4]! + HEX_DIGITS[b & 0xf]!;
  }
  return out;
}

/** Value of one hex digit (either case), or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  const lower = code | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Strict hex decoder: an even number of hex digits (either case), nothing else, not even whitespace. */
export function hexToBytes(text: string): Uint8Array {
  if (text.length % 2 !== 0) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_ENCODING',
      `Hex text has an odd number of digits (${text.length}).`,
    );
  }
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(text.charCodeAt(2 * i));
    const lo = hexValue(text.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) {
      const at = hi < 0 ? 2 * i : 2 * i + 1;
      throw new CryptoError('CRYPTO_ERR_BAD_ENCODING', `Hex text has a non-hex character at position ${at}.`);
    }
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Whether two byte strings are equal (not in constant time: for IDs, never for secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
