import { describe, expect, it } from 'vitest';
import { outcomeExplain } from '../../app/components/history-panel';

describe('what the history says a verified file means', () => {
  it('protocol v4 (the server reported a SHA-256): no claim that this browser computed a checksum', () => {
    const text = outcomeExplain({ outcome: 'verified', sha256: 'ab'.repeat(32) });
    expect(text).not.toMatch(/this browser/);
    expect(text).toMatch(/authenticated every piece/);
  });

  it('protocol v3 (CRC): the server’s checksum matched this browser’s', () => {
    expect(outcomeExplain({ outcome: 'verified' })).toMatch(/matches this browser’s/);
    expect(outcomeExplain({ outcome: 'failed' })).toMatch(/did not store/);
  });
});
