import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_STORED_NAME_LENGTH, Storage, sanitizeFileName, uniqueName } from './storage';

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
  it('adds " (n)" before the extension until free', () => {
    const taken = new Set(['a.txt', 'a (2).txt']);
    expect(uniqueName('a.txt', (n) => taken.has(n))).toBe('a (3).txt');
    expect(uniqueName('b', () => false)).toBe('b');
    expect(uniqueName('noext', (n) => n === 'noext')).toBe('noext (2)');
  });
});

describe('Storage', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('cleans tmp/ on init and commits into the client folder, unique on collision', async () => {
    dir = mkdtempSync(join(tmpdir(), 'sft-storage-'));
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    writeFileSync(join(dir, 'tmp', 'left-over.part'), 'x');
    const s = new Storage(dir);
    expect(s.init()).toBe(1);
    expect(existsSync(join(dir, 'tmp', 'left-over.part'))).toBe(false);
    const hex = 'ab'.repeat(16);
    const t1 = s.newTempPath();
    writeFileSync(t1, 'one');
    const p1 = await s.commit(t1, hex, '../a/b.txt', undefined, () => false);
    expect(p1).toBe(`${hex}/b.txt`);
    const t2 = s.newTempPath();
    writeFileSync(t2, 'two');
    // Another original name that sanitises the same way gets its own file.
    const p2 = await s.commit(t2, hex, 'c/b.txt', undefined, () => false);
    expect(p2).toBe(`${hex}/b (2).txt`);
    // A replacement reuses the earlier path.
    const t3 = s.newTempPath();
    writeFileSync(t3, 'three');
    expect(await s.commit(t3, hex, '../a/b.txt', p1, () => false)).toBe(p1);
    expect(readFileSync(join(dir, 'files', p1), 'utf8')).toBe('three');
    expect(readFileSync(join(dir, 'files', p2), 'utf8')).toBe('two');
  });

  it('refuses stored paths outside the client folder', () => {
    dir = mkdtempSync(join(tmpdir(), 'sft-storage-'));
    const s = new Storage(dir);
    expect(s.resolveStored('../x', 'ab')).toBeNull();
    expect(s.resolveStored('cd/x', 'ab')).toBeNull();
    expect(s.resolveStored('ab/../../x', 'ab')).toBeNull();
    expect(s.resolveStored('ab/x', 'ab')).toBe(join(dir, 'files', 'ab', 'x'));
  });
});
