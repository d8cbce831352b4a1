import { describe, expect, it } from 'vitest';
import { readableMessage } from '../platform/log';
import { describeOutcome } from './outcome-message';

const base = { client: 'ab'.repeat(16), name: 'alice', bytes: 0 };

describe('describeOutcome', () => {
  it('says what happened in words, not codes', () => {
    expect(describeOutcome({ ...base, code: 1028, result: 1603, bytes: 2_202_010, file: 'report.pdf' })).toBe(
      'alice sent report.pdf, 2.1 MiB encrypted; checking its CRC',
    );
    expect(describeOutcome({ ...base, code: 1029, result: 1604, file: 'report.pdf' })).toBe(
      "alice's report.pdf is verified",
    );
    expect(describeOutcome({ ...base, code: 1025, result: 1600 })).toBe('alice registered');
    expect(
      describeOutcome({ ...base, name: undefined, client: '0'.repeat(32), code: 1025, result: 1600 }),
    ).toBe('a new client registered');
    expect(describeOutcome({ ...base, code: 1025, result: 1601 })).toBe(
      'alice could not register (name taken)',
    );
    expect(describeOutcome({ ...base, code: 1027, result: 1605 })).toBe('alice reconnected');
    const failed = describeOutcome({
      ...base,
      code: 1028,
      result: 1607,
      file: 'big.bin',
      error: 'SERVER_ERR_LIMIT',
    });
    expect(failed).toBe("alice's upload of big.bin failed (SERVER_ERR_LIMIT)");
    for (const code of [1025, 1026, 1027, 1028, 1029, 1030, 1031])
      expect(describeOutcome({ ...base, code, result: null })).not.toMatch(/\b1[06]\d\d\b/);
  });

  it('a readable line is the message, else the event and its fields', () => {
    expect(readableMessage({ level: 'info', part: 'server', msg: 'alice registered', code: 1025 })).toBe(
      'server: alice registered',
    );
    expect(readableMessage({ level: 'info', part: 'server', event: 'listening', port: 1256 })).toBe(
      'server: listening port=1256',
    );
  });
});
