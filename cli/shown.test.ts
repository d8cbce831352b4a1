import { describe, expect, it } from 'vitest';
import { shown } from './shown';

describe('shown', () => {
  it('escapes control characters so a name stays on one line and cannot drive the terminal', () => {
    expect(shown('a\nb.txt')).toBe('a\\nb.txt');
    expect(shown('\r\t\u0000\u001b[2J\u007f\u009b')).toBe('\\r\\t\\x00\\x1b[2J\\x7f\\x9b');
  });
  it('leaves every other character as it is', () => {
    expect(shown('/srv/zoë/résumé (1).pdf')).toBe('/srv/zoë/résumé (1).pdf');
    expect(shown('C:\\files\\a.txt')).toBe('C:\\files\\a.txt');
  });
});
