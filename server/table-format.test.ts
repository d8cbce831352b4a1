import { describe, expect, it } from 'vitest';
import { formatTable, jsonLines } from './table-format';

/** What a terminal must never get from a name (lib/protocol/name-chars.ts). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;

describe('formatTable', () => {
  it('shows control, bidi and separator characters as \\u{...} escapes, aligned by what is shown', () => {
    const out = formatTable(
      ['NAME', 'SIZE'],
      [
        ['report\u009b2J-invoice\u202Etxt.exe', '3 B'],
        ['a\u001b]0;x\u0007\u2066b\u2069\u2028\ufeff', '10 B'],
        ['plain', '1 B'],
      ],
      [1],
    );
    expect(UNSAFE.test(out)).toBe(false);
    const names = [
      'NAME',
      'report\\u{9B}2J-invoice\\u{202E}txt.exe',
      'a\\u{1B}]0;x\\u{7}\\u{2066}b\\u{2069}\\u{2028}\\u{FEFF}',
      'plain',
    ];
    const w = names[2]!.length;
    expect(out).toBe(
      `${names.map((n, i) => `${n.padEnd(w)}  ${['SIZE', ' 3 B', '10 B', ' 1 B'][i]}`).join('\n')}\n`,
    );
  });

  it('leaves other UTF-8 as it is', () => {
    expect(formatTable(['N'], [['été 東京 👩‍💻']])).toBe('N\nété 東京 👩‍💻\n');
  });
});

describe('jsonLines', () => {
  it('writes the characters as \\u escapes: nothing raw, the same values', () => {
    const rows = [
      { fileName: 'report\u009b2J-invoice\u202Etxt.exe', client: 'alice\u009d8m [v4 x]', size: 3 },
      { fileName: 'del\u007f\u0085\u2029\u061c\u200e', client: 'b', size: null },
    ];
    const out = jsonLines(rows);
    expect(UNSAFE.test(out)).toBe(false);
    expect(out).toContain('"report\\u009b2J-invoice\\u202etxt.exe"');
    expect(out.endsWith('\n')).toBe(true);
    expect(
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(rows);
    expect(jsonLines([])).toBe('');
  });
});
