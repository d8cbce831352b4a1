import { describe, expect, it } from 'vitest';
import { inClientFolder, MAX_STORED_NAME_LENGTH, sanitizeFileName, uniqueName } from './stored-names';

describe('sanitizeFileName', () => {
  it.each([
    ['report.pdf', 'report.pdf'],
    ['../x', 'x'],
    ['../../etc/passwd', 'passwd'],
    ['/etc/passwd', 'passwd'],
    ['a\\b', 'b'],
    ['C:\\Users\\me\\file.txt', 'file.txt'],
    ['dir/', 'dir'],
    ['..', 'file'],
    ['.', 'file'],
    ['', 'file'],
    ['/', 'file'],
    ['CON', '_CON'],
    ['con', '_con'],
    ['nul.txt', '_nul.txt'],
    ['COM1.log', '_COM1.log'],
    ['lpt9', '_lpt9'],
    ['CON.', '_CON'],
    ['console.txt', 'console.txt'],
    ['a\x00b', 'a_b'],
    ['tab\there', 'tab_here'],
    ['bell\x07.txt', 'bell_.txt'],
    ['del\x7f', 'del_'],
    ['trailing. . ', 'trailing'],
    ['.bashrc', '_.bashrc'],
    ['what?.txt', 'what_.txt'],
    ['a:b*c|d"e<f>g', 'a_b_c_d_e_f_g'],
    ['caf\u00e9', 'caf_'],
  ])('%j -> %j', (input, expected) => {
    expect(sanitizeFileName(input)).toBe(expected);
  });

  it('caps the length and keeps the extension', () => {
    const out = sanitizeFileName(`${'x'.repeat(300)}.tar.gz`);
    expect(out.length).toBeLessThanOrEqual(MAX_STORED_NAME_LENGTH);
    expect(out.endsWith('.gz')).toBe(true);
  });

  it('never returns something that escapes a folder', () => {
    for (const s of ['..', '../..', '.../...', '..\\..\\', '/..', 'a/../..', '\\\\server\\share\\..']) {
      const out = sanitizeFileName(s);
      expect(out).not.toMatch(/[/\\]/);
      expect(out).not.toBe('..');
      expect(out).not.toBe('.');
    }
  });
});

describe('uniqueName', () => {
  it('adds " (n)" before the extension until free', async () => {
    const taken = new Set(['a.txt', 'a (2).txt']);
    expect(await uniqueName('a.txt', (n) => taken.has(n))).toBe('a (3).txt');
    expect(await uniqueName('b', () => false)).toBe('b');
    expect(await uniqueName('noext', async (n) => n === 'noext')).toBe('noext (2)');
  });
});

describe('inClientFolder', () => {
  it('refuses stored paths outside the client folder', () => {
    expect(inClientFolder('../x', 'ab')).toBe(false);
    expect(inClientFolder('cd/x', 'ab')).toBe(false);
    expect(inClientFolder('ab/../../x', 'ab')).toBe(false);
    expect(inClientFolder('ab/../cd/x', 'ab')).toBe(false);
    expect(inClientFolder('ab/', 'ab')).toBe(false);
    expect(inClientFolder('/ab/x', 'ab')).toBe(false);
    expect(inClientFolder('ab/x', 'ab')).toBe(true);
  });
});
