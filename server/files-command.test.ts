import { describe, expect, it } from 'vitest';
import { type FileListing, formatListing, localTime } from './files-command';

const f: FileListing = {
  client: 'alice',
  clientId: 'ab'.repeat(16),
  fileName: 'report.pdf',
  size: 1234,
  cksum: 4294967295,
  sha256: null,
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
    expect(out[0]).toMatch(/^CLIENT\s+FILE\s+SIZE\s+CRC\s+SHA-256\s+VERIFIED\s+RECEIVED\s+STORED AS$/);
    expect(out[1]).toContain('alice');
    expect(out[1]).toContain('4294967295');
    expect(out[1]).toContain('yes');
    expect(out[1]!.indexOf('report.pdf')).toBe(out[0]!.indexOf('FILE'));
    expect(formatListing([], true)).toMatch(/No files/);
  });

  it('a v4 file shows its whole SHA-256 instead of a CRC, in the table and in JSON', () => {
    const v4 = { ...f, cksum: null, sha256: 'c0ffee'.repeat(10) + 'abcd' };
    const [head, row] = formatListing([v4], true).split('\n');
    expect(row!.slice(head!.indexOf('SHA-256')).startsWith(v4.sha256)).toBe(true);
    expect(row).not.toContain('4294967295');
    expect(JSON.parse(formatListing([v4], false)).sha256).toBe(v4.sha256);
  });

  it('sizes for people and local times on a terminal; bytes and UTC when piped', () => {
    const big = { ...f, size: 2_202_010, receivedAt: '2026-06-01T12:34:56.000Z' };
    const row = formatListing([big], true).split('\n')[1]!;
    expect(row).toContain('2.1 MiB');
    expect(row).not.toContain('2202010');
    expect(row).toContain(localTime(big.receivedAt));
    expect(row).not.toContain('2026-06-01T12:34:56');
    const local = new Date(big.receivedAt);
    expect(localTime(big.receivedAt)).toBe(
      `2026-06-0${local.getDate()} ${String(local.getHours()).padStart(2, '0')}:${String(local.getMinutes()).padStart(2, '0')}:56`,
    );
    const json = JSON.parse(formatListing([big], false));
    expect(json.size).toBe(2_202_010);
    expect(json.receivedAt).toBe('2026-06-01T12:34:56.000Z');
  });
});
