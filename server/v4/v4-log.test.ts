import { describe, expect, it } from 'vitest';
import { v4Sentence } from './v4-log';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;

describe('v4Sentence', () => {
  it('shows the client name and the file name with control, bidi and separator characters escaped', () => {
    const who = 'alice\u009b8m [v4 hidden]';
    const file = 'report\u009b2J-invoice\u202Etxt.exe';
    const sentences = [
      v4Sentence.authenticated(who, true, null),
      v4Sentence.refused(who, 1, 'why\u202E'),
      v4Sentence.started(who, file, 3, 0),
      v4Sentence.started(who, file, 3, 2),
      v4Sentence.uploadRefused(who, file, 15, 'bad name'),
      v4Sentence.done(who, file, 3, 'ab'.repeat(32), 0),
      v4Sentence.doneAgain(who, file),
      v4Sentence.kept(who, file, 4, 'cut'),
      v4Sentence.aborted(who, file),
    ];
    for (const s of sentences) expect(UNSAFE.test(s), s).toBe(false);
    expect(v4Sentence.done(who, file, 3, 'ab'.repeat(32), 0)).toBe(
      'alice\\u{9B}8m [v4 hidden] sent report\\u{9B}2J-invoice\\u{202E}txt.exe, 3 B, verified (protocol 4, SHA-256 abababab…)',
    );
    expect(v4Sentence.aborted('bob', 'été.txt')).toBe(
      'bob gave up on été.txt; the unfinished upload was removed (protocol 4)',
    );
  });
});
