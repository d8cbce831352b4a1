import { describe, expect, it } from 'vitest';
import { fileTooLargeReason } from './v4-uploads';

describe('Error 7 (file too large): the reason the server sends', () => {
  it('says the limit in readable units, the exact byte count in brackets', () => {
    expect(fileTooLargeReason(20 * 1024 * 1024)).toBe(
      'The server accepts files up to 20 MiB (20,971,520 bytes).',
    );
    expect(fileTooLargeReason(100 * 1024)).toBe('The server accepts files up to 100 KiB (102,400 bytes).');
    // Room left on the disk is no round figure: two decimals at most, the count exact.
    expect(fileTooLargeReason(10 * 1024 * 1024 - 12_345)).toBe(
      'The server accepts files up to 9.98 MiB (10,473,415 bytes).',
    );
    expect(fileTooLargeReason(512)).toBe('The server accepts files up to 512 B (512 bytes).');
  });
});
