import { describe, expect, test } from 'vitest';
import { expectProtocolError } from '../../test/support/arbitraries';
import { MAX_CLIENT_NAME_LENGTH, NAME_FIELD_SIZE } from './constants';
import { decodeNameField, encodeNameField, validateClientName, validateName } from './name-field';

const field = (bytes: number[]): Uint8Array => {
  const f = new Uint8Array(NAME_FIELD_SIZE);
  f.set(bytes);
  return f;
};

describe('validateName', () => {
  test('accepts every printable ASCII character, space and tilde included', () => {
    let all = '';
    for (let c = 0x20; c <= 0x7e; c++) all += String.fromCharCode(c);
    expect(() => validateName(all, 254)).not.toThrow();
    expect(() => validateName(' ', 1)).not.toThrow();
  });

  test('rejects every control character (0x00..0x1f and DEL) as PROTO_ERR_NAME_CONTROL_CHAR', () => {
    for (let c = 0; c < 0x20; c++)
      expectProtocolError(
        () => validateName(`a${String.fromCharCode(c)}`, 10),
        'PROTO_ERR_NAME_CONTROL_CHAR',
      );
    expectProtocolError(() => validateName('a\x7f', 10), 'PROTO_ERR_NAME_CONTROL_CHAR');
  });

  test('rejects anything above 0x7f as PROTO_ERR_NAME_NOT_ASCII', () => {
    for (const s of ['\x80', '\xa0', '\xff', 'é', '\u2028', '\ud83d', '\u{1f600}', '\ufeff']) {
      expectProtocolError(() => validateName(s, 10), 'PROTO_ERR_NAME_NOT_ASCII');
    }
  });

  test('length limit is inclusive; empty is its own error', () => {
    expect(() => validateName('abc', 3)).not.toThrow();
    expectProtocolError(() => validateName('abcd', 3), 'PROTO_ERR_NAME_TOO_LONG');
    expectProtocolError(() => validateName('', 3), 'PROTO_ERR_NAME_EMPTY');
  });

  test('validateClientName uses the 100-character limit', () => {
    expect(() => validateClientName('x'.repeat(MAX_CLIENT_NAME_LENGTH))).not.toThrow();
    expectProtocolError(
      () => validateClientName('x'.repeat(MAX_CLIENT_NAME_LENGTH + 1)),
      'PROTO_ERR_NAME_TOO_LONG',
    );
    expectProtocolError(() => validateClientName(''), 'PROTO_ERR_NAME_EMPTY');
  });
});

describe('encodeNameField', () => {
  test('text, NUL, zero padding: always 255 bytes', () => {
    const f = encodeNameField('Ab ~');
    expect(f.length).toBe(NAME_FIELD_SIZE);
    expect(Array.from(f.subarray(0, 5))).toEqual([0x41, 0x62, 0x20, 0x7e, 0x00]);
    expect(f.subarray(4).every((b) => b === 0)).toBe(true);
  });

  test('254 characters fit (NUL in the last byte); 255 do not, whatever maxLength says', () => {
    const f = encodeNameField('q'.repeat(254));
    expect(f[253]).toBe(0x71);
    expect(f[254]).toBe(0);
    expectProtocolError(() => encodeNameField('q'.repeat(255)), 'PROTO_ERR_NAME_TOO_LONG');
    expectProtocolError(() => encodeNameField('q'.repeat(255), 1000), 'PROTO_ERR_NAME_TOO_LONG');
  });

  test('maxLength is honoured', () => {
    expectProtocolError(() => encodeNameField('abcdef', 5), 'PROTO_ERR_NAME_TOO_LONG');
    expect(encodeNameField('abcde', 5)[5]).toBe(0);
  });

  test('writing into a dirty buffer clears the old bytes', () => {
    const into = new Uint8Array(300).fill(0xaa);
    encodeNameField('hi', 254, into.subarray(10, 10 + NAME_FIELD_SIZE));
    expect(Array.from(into.subarray(8, 14))).toEqual([0xaa, 0xaa, 0x68, 0x69, 0, 0]);
    expect(into.subarray(12, 10 + NAME_FIELD_SIZE).every((b) => b === 0)).toBe(true);
    // Bytes after the field are not touched.
    expect(into[10 + NAME_FIELD_SIZE]).toBe(0xaa);
  });

  test('a target shorter than 255 bytes is rejected rather than silently truncated', () => {
    expectProtocolError(() => encodeNameField('hi', 254, new Uint8Array(100)), 'PROTO_ERR_BAD_FIELD');
  });

  test('invalid text is rejected before anything is written', () => {
    const into = new Uint8Array(NAME_FIELD_SIZE).fill(0xaa);
    expectProtocolError(() => encodeNameField('bad\n', 254, into), 'PROTO_ERR_NAME_CONTROL_CHAR');
    expect(into.every((b) => b === 0xaa)).toBe(true);
  });
});

describe('decodeNameField', () => {
  test('reads the text before the first NUL and ignores what follows', () => {
    expect(decodeNameField(field([0x61, 0x62, 0x00, 0x63, 0xff]))).toBe('ab');
  });

  test('254 characters then NUL decode', () => {
    expect(decodeNameField(field(new Array(254).fill(0x7a)))).toBe('z'.repeat(254));
  });

  test('no NUL anywhere: PROTO_ERR_NAME_NO_NUL', () => {
    expectProtocolError(
      () => decodeNameField(new Uint8Array(NAME_FIELD_SIZE).fill(0x61)),
      'PROTO_ERR_NAME_NO_NUL',
    );
  });

  test('NUL first: PROTO_ERR_NAME_EMPTY', () => {
    expectProtocolError(() => decodeNameField(new Uint8Array(NAME_FIELD_SIZE)), 'PROTO_ERR_NAME_EMPTY');
  });

  test('control and non-ASCII bytes before the NUL', () => {
    expectProtocolError(() => decodeNameField(field([0x61, 0x01])), 'PROTO_ERR_NAME_CONTROL_CHAR');
    expectProtocolError(() => decodeNameField(field([0x7f])), 'PROTO_ERR_NAME_CONTROL_CHAR');
    expectProtocolError(() => decodeNameField(field([0x61, 0x80])), 'PROTO_ERR_NAME_NOT_ASCII');
    expectProtocolError(() => decodeNameField(field([0xc3, 0xa9])), 'PROTO_ERR_NAME_NOT_ASCII'); // UTF-8 "é"
  });

  test('a field that is not 255 bytes: PROTO_ERR_BAD_FIELD', () => {
    for (const n of [0, 1, 254, 256])
      expectProtocolError(() => decodeNameField(new Uint8Array(n)), 'PROTO_ERR_BAD_FIELD');
  });

  test('works on a view at an odd offset', () => {
    const buf = new Uint8Array(NAME_FIELD_SIZE + 3);
    buf.set([0x4f, 0x4b], 3);
    expect(decodeNameField(buf.subarray(3))).toBe('OK');
  });

  test('round trip for every single printable character', () => {
    for (let c = 0x20; c <= 0x7e; c++) {
      const s = String.fromCharCode(c).repeat(3);
      expect(decodeNameField(encodeNameField(s))).toBe(s);
    }
  });
});
