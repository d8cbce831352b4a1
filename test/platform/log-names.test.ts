/**
 * platform/log.ts: no log line, JSON or readable, writes a control, bidi formatting or
 * separator character from a field or a sentence raw (lib/protocol/name-chars.ts).
 */
import type { DestinationStream } from 'pino';
import { describe, expect, it } from 'vitest';
import { createLogger, readableMessage } from '../../platform/log';

const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/u;
const NAME = 'report\u009b2J\u007f-invoice\u202Etxt.exe\u2028';

describe('the JSON log', () => {
  it('writes the characters as \\u escapes, in fields and messages; the lines parse to the same values', () => {
    const raw: string[] = [];
    const destination: DestinationStream = { write: (line: string) => void raw.push(line) };
    const log = createLogger({ part: 'test', format: 'json', destination });
    log.info({ event: 'v4-upload-start', file: NAME, nested: { name: NAME } }, `alice started ${NAME}`);
    log.warn({ event: 'no-msg', file: NAME });
    expect(raw).toHaveLength(2);
    for (const line of raw) {
      expect(UNSAFE.test(line), line).toBe(false);
      expect(line.endsWith('\n')).toBe(true);
    }
    expect(raw[0]).toContain('report\\u009b2J\\u007f-invoice\\u202etxt.exe\\u2028');
    const first = JSON.parse(raw[0]!) as Record<string, unknown>;
    expect(first.file).toBe(NAME);
    expect(first.nested).toEqual({ name: NAME });
    expect(first.msg).toBe(`alice started ${NAME}`);
  });
});

describe('readableMessage (the lines on a terminal)', () => {
  it('shows the characters as \\u{...} escapes, from the sentence or from the fields', () => {
    const shown = 'report\\u{9B}2J\\u{7F}-invoice\\u{202E}txt.exe\\u{2028}';
    expect(readableMessage({ part: 'server', msg: `alice started ${NAME}` })).toBe(
      `server: alice started ${shown}`,
    );
    const fields = readableMessage({
      part: 'server',
      event: 'v4-write-failed',
      file: NAME,
      n: { a: '\u009d' },
    });
    expect(fields).toBe(`server: v4-write-failed file=${shown} n={"a":"\\u{9D}"}`);
    expect(UNSAFE.test(fields)).toBe(false);
  });
});
