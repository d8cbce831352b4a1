import { describe, expect, test } from 'vitest';
import { clientIdEquals, clientIdFromHex, clientIdToHex, EMPTY_CLIENT_ID } from './client-id';
import { CLIENT_ID_SIZE } from './constants';
import { ProtocolError } from './errors';

const ID = Uint8Array.from([
  0x00, 0x01, 0x0a, 0x0f, 0x10, 0x7f, 0x80, 0xab, 0xcd, 0xef, 0xf0, 0xfe, 0xff, 0x09, 0x90, 0x5a,
]);
const HEX = '00010a0f107f80abcdeff0feff09905a';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).code;
  }
  return undefined;
}

describe('client IDs', () => {
  test('EMPTY_CLIENT_ID is 16 zero bytes', () => {
    expect(EMPTY_CLIENT_ID).toEqual(new Uint8Array(CLIENT_ID_SIZE));
    expect(clientIdToHex(EMPTY_CLIENT_ID)).toBe('0'.repeat(32));
  });

  test('to hex: 32 lowercase digits, leading zeros kept', () => {
    expect(clientIdToHex(ID)).toBe(HEX);
  });

  test('from hex: lower and upper case, round trip', () => {
    expect(clientIdFromHex(HEX)).toEqual(ID);
    expect(clientIdFromHex(HEX.toUpperCase())).toEqual(ID);
    expect(clientIdToHex(clientIdFromHex('F'.repeat(32)))).toBe('f'.repeat(32));
  });

  test.each([
    ['', 'empty'],
    ['0'.repeat(31), '31 digits'],
    ['0'.repeat(33), '33 digits'],
    [`${'0'.repeat(31)}g`, 'non-hex digit'],
    [` ${'0'.repeat(31)}`, 'leading space'],
    [`${'0'.repeat(32)}\n`, 'trailing newline'],
    ['0x' + '0'.repeat(30), '0x prefix'],
    ['00000000-0000-0000-0000-000000000000', 'UUID with dashes'],
    ['+1'.repeat(16), 'signs parseInt would accept'],
  ])('from hex rejects %j (%s) with PROTO_ERR_BAD_FIELD', (hex) => {
    expect(codeOf(() => clientIdFromHex(hex))).toBe('PROTO_ERR_BAD_FIELD');
  });

  test('equality', () => {
    expect(clientIdEquals(ID, clientIdFromHex(HEX))).toBe(true);
    const other = ID.slice();
    other[15] = other[15]! ^ 1;
    expect(clientIdEquals(ID, other)).toBe(false);
    const first = ID.slice();
    first[0] = first[0]! ^ 0x80;
    expect(clientIdEquals(ID, first)).toBe(false);
    expect(clientIdEquals(ID, ID.subarray(0, 15))).toBe(false);
    expect(clientIdEquals(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
