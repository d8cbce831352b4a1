import { describe, expect, it } from 'vitest';
import type { InvitePayload } from '@/lib/invite';
import { limitsSentence } from './invite-rules';

const NOW = Date.UTC(2026, 11, 8, 12);

function payload(label: string): InvitePayload {
  return {
    v: 1,
    id: 'abcdefghijklmnop',
    label,
    iat: Math.floor(NOW / 1000) - 60,
    exp: Math.floor(NOW / 1000) + 7 * 86_400,
    maxBytes: 10 * 1024 ** 3,
    maxFiles: 100,
    maxClients: 1,
  };
}

describe('limitsSentence', () => {
  it("names the invite's label and its limits", () => {
    expect(limitsSentence(payload('Dana'), NOW)).toBe('from Dana: up to 10 GiB and 100 files, until Dec 15');
  });

  it('names the owner when the label is empty or blank', () => {
    expect(limitsSentence(payload('  '), NOW)).toMatch(/^from the owner of this server: /);
  });

  it('shows no bidi or control character of a label (the link is read unverified)', () => {
    // U+202E would run everything after it right to left; U+009B is a terminal's CSI.
    const s = limitsSentence(payload('Dana\u202E\u2066 \u009b[31m'), NOW);
    expect(s).toBe('from Dana__ _[31m: up to 10 GiB and 100 files, until Dec 15');
    expect(s).not.toMatch(/[\u202e\u2066\u009b]/);
  });
});
