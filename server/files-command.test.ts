import { describe, expect, it } from 'vitest';
import { type FileListing, formatListing } from './files-command';

const f: FileListing = {
  client: 'alice',
  clientId: 'ab'.repeat(16),
  fileName: 'report.pdf',
  size: 1234,
  cksum: 4294967295,
  verified: true,
  receivedAt: '2026-01-01T00:00:00.000Z',
  path: `files/${'ab'.repeat(16)}/report.pdf`,
};

describe('formatListing', () => {
  it('one JSON object per line when not a terminal', () => {
    const out = formatListing([f, { ...f, fileName: 'b', verified: false }], false);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual(f);
    expect(JSON.parse(lines[1]!).verified).toBe(false);
    expect(formatListing([], false)).toBe('');
  });

  it('an aligned table on a terminal', () => {
    const out = formatListing([f], true).split('\n');
    expect(out[0]).toMatch(/^CLIENT\s+FILE\s+SIZE\s+CRC\s+VERIFIED\s+RECEIVED\s+STORED AS$/);
    expect(out[1]).toContain('alice');
    expect(out[1]).toContain('4294967295');
    expect(out[1]).toContain('yes');
    expect(out[1]!.indexOf('report.pdf')).toBe(out[0]!.indexOf('FILE'));
    expect(formatListing([], true)).toMatch(/No files/);
  });
});
