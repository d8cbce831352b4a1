import { describe, expect, it } from 'vitest';
import { escapeUnsafe, escapeUnsafeJson, UNSAFE_NAME_RANGES, unsafeNameChar } from './name-chars';

const inRanges = (c: number) => UNSAFE_NAME_RANGES.some(([lo, hi]) => c >= lo && c <= hi);

describe('unsafe name characters', () => {
  it('are exactly the listed ranges, over the whole BMP and a few astral characters', () => {
    const wrong: string[] = [];
    for (let c = 0; c <= 0xffff; c++)
      if ((unsafeNameChar(`a${String.fromCharCode(c)}b`) !== null) !== inRanges(c))
        wrong.push(c.toString(16));
    expect(wrong).toEqual([]);
    for (const s of ['\u{1f600}', '\u{e0001}', '\u{10ffff}']) expect(unsafeNameChar(s)).toBeNull();
  });

  it('name C0, DEL, C1, the bidi controls, the separators and the BOM by code point', () => {
    expect(unsafeNameChar('ok\u009b2J')).toBe('U+009B');
    expect(unsafeNameChar('invoice\u202Etxt.exe')).toBe('U+202E');
    for (const c of [0x00, 0x1b, 0x7f, 0x80, 0x85, 0x9d, 0x9f, 0x61c, 0x200e, 0x200f, 0x2028, 0x2029])
      expect(unsafeNameChar(String.fromCharCode(c))).not.toBeNull();
    for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff])
      expect(unsafeNameChar(String.fromCharCode(c))).not.toBeNull();
    // Printable neighbours and the joiners scripts and emoji need stay allowed.
    for (const s of [
      '\u00a0',
      'é',
      '\u200b',
      '\u200c',
      '\u200d',
      '\u2027',
      '\u202f',
      '\u2065',
      '\u206a',
      'Zoë 東京',
      '👩‍💻',
    ])
      expect(unsafeNameChar(s), JSON.stringify(s)).toBeNull();
  });
});

describe('escapeUnsafe (terminal text)', () => {
  it('writes each unsafe character as \\u{hex} and leaves the rest', () => {
    expect(escapeUnsafe('report\u009b2J-invoice\u202Etxt.exe')).toBe(
      'report\\u{9B}2J-invoice\\u{202E}txt.exe',
    );
    expect(escapeUnsafe('a\u001b[31mb\u007f\n')).toBe('a\\u{1B}[31mb\\u{7F}\\u{A}');
    expect(escapeUnsafe('été ☃ 東京 👩‍💻')).toBe('été ☃ 東京 👩‍💻');
  });
});

describe('escapeUnsafeJson', () => {
  it('keeps the JSON value and leaves no unsafe character raw', () => {
    const value = { name: 'alice\u009b8m [v4 x]', file: 'a\u202Eb\u2028c\ufeff\u061c', n: 1 };
    const json = escapeUnsafeJson(JSON.stringify(value));
    expect(json).toBe('{"name":"alice\\u009b8m [v4 x]","file":"a\\u202eb\\u2028c\\ufeff\\u061c","n":1}');
    expect(JSON.parse(json)).toEqual(value);
    for (const ch of json) expect(unsafeNameChar(ch)).toBeNull();
  });

  it('escapes DEL, which JSON.stringify leaves raw, and leaves the lines of JSON lines as they are', () => {
    const lines = `${JSON.stringify({ a: 'x\u007f\u0085' })}\n${JSON.stringify({ b: 'tab\there\n' })}\n`;
    const out = escapeUnsafeJson(lines);
    expect(out).toBe('{"a":"x\\u007f\\u0085"}\n{"b":"tab\\there\\n"}\n');
    expect(
      out
        .split('\n')
        .slice(0, 2)
        .map((l) => JSON.parse(l)),
    ).toEqual([{ a: 'x\u007f\u0085' }, { b: 'tab\there\n' }]);
  });
});
