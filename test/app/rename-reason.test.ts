import { describe, expect, it } from 'vitest';
import { renameReason } from '../../app/components/rename-reason';

const item = (name: string, wireName: string, protocol?: 3 | 4) => ({
  file: { name } as File,
  wireName,
  protocol,
});

describe('why a stored name differs, in the queue', () => {
  it('protocol 4 sends the name as it is: the reason is the name on disk, not v3 ASCII', () => {
    // The page's connection is v4 before the file's attempt says so, and after.
    for (const r of [
      renameReason(item('héllo wörld.txt', 'h_llo w_rld.txt'), 4),
      renameReason(item('héllo wörld.txt', 'h_llo w_rld.txt', 4), null),
    ]) {
      expect(r).not.toMatch(/v3|ASCII/);
      expect(r).toMatch(/list keeps the name as you sent it/);
    }
  });

  it('protocol 3 says its names are ASCII when the name had to change to travel', () => {
    expect(renameReason(item('héllo.txt', 'h_llo.txt', 3), 4)).toMatch(/Protocol v3 names are plain ASCII/);
    expect(renameReason(item('a:b.txt', 'a:b.txt'), 3)).toBe(
      'The server replaces characters file systems do not allow.',
    );
  });
});

describe('why a stored name differs: shortened names', () => {
  it('a long name of safe characters is said to be shortened, not to have characters replaced', () => {
    const long = `${'a'.repeat(200)}.txt`;
    const r = renameReason(item(long, long, 4), 4);
    expect(r).toMatch(/Names over 120 characters are shortened, keeping the extension/);
    expect(r).not.toMatch(/become “_”/);
  });

  it('a long name with other characters says both; a short one with a leading dot says what changed', () => {
    const long = `${'é'.repeat(130)}.txt`;
    const r = renameReason(item(long, long, 4), 4);
    expect(r).toMatch(/become “_”/);
    expect(r).toMatch(/shortened/);
    const dot = renameReason(item('.bashrc', '.bashrc', 4), 4);
    expect(dot).toMatch(/leading dot/);
    expect(dot).not.toMatch(/become “_”|shortened/);
  });
});
