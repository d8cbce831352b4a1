import { describe, expect, it } from 'vitest';
import { fingerprintFromLink, inviteLink, tokenFromLink } from './link';

const FP = 'SHA256:q1+/w2E3r4T5y6U7i8O9p0AaSsDdFfGgHhJjKkLlZzX';

describe('invite links with the server fingerprint', () => {
  it('put the fingerprint after the token in the fragment, URL-encoded, and read both back', () => {
    const link = inviteLink('https://files.example.org/send?x=1', 'sfi1.abc.def', FP);
    expect(link).toBe(
      `https://files.example.org/send?x=1#invite=sfi1.abc.def&server=${encodeURIComponent(FP)}`,
    );
    expect(link).not.toContain('+');
    expect(tokenFromLink(link)).toBe('sfi1.abc.def');
    expect(fingerprintFromLink(` ${link}\n`)).toBe(FP);
  });

  it('a link without one, or a bare token, carries none; the old form still works', () => {
    const link = inviteLink('https://files.example.org/', 'sfi1.abc.def');
    expect(link).toBe('https://files.example.org/#invite=sfi1.abc.def');
    expect(fingerprintFromLink(link)).toBeUndefined();
    expect(fingerprintFromLink('sfi1.abc.def')).toBeUndefined();
    expect(tokenFromLink(link)).toBe('sfi1.abc.def');
  });

  it('the parameters may come in either order', () => {
    const link = `https://h/#server=${encodeURIComponent(FP)}&invite=sfi1.a.b`;
    expect(tokenFromLink(link)).toBe('sfi1.a.b');
    expect(fingerprintFromLink(link)).toBe(FP);
  });

  it.each([
    ['not a fingerprint', 'https://h/#invite=sfi1.a.b&server=hello'],
    ['cut short', `https://h/#invite=sfi1.a.b&server=${encodeURIComponent(FP.slice(0, -3))}`],
    // An unencoded "+" reads as a space: the link was mangled.
    ['with "+" unencoded', `https://h/#invite=sfi1.a.b&server=${FP}`],
    ['empty', 'https://h/#invite=sfi1.a.b&server='],
  ])('a damaged fingerprint (%s) is refused, not ignored', (_what, link) => {
    expect(() => fingerprintFromLink(link)).toThrow(
      expect.objectContaining({ code: 'INVITE_ERR_MALFORMED' }),
    );
  });
});
