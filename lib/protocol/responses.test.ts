import { describe, expect, test } from 'vitest';
import { expectProtocolError } from '../../test/support/arbitraries';
import { RESPONSE_HEADER_SIZE, ResponseCode } from './constants';
import { decodeResponseHeader, encodeResponseHeader, type ResponseHeader } from './headers';
import { decodeResponse, encodeResponse, type Response } from './responses';

// Byte helpers: vectors are spelled out here, independent of the encoder under test.
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const seq = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => (from + i) & 0xff);

const ID = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf];
const KEY_128 = seq(128, 0x37); // RSA-1024 OAEP ciphertext of the AES key

interface Vector {
  what: string;
  bytes: number[];
  value: Response;
}

// biome-ignore format: annotated byte vectors, one wire field per line
const vectors: Vector[] = [
  {
    what: '1600 registered',
    bytes: [
      0x03, // version 3
      0x40, 0x06, // code 1600 (0x0640)
      0x10, 0x00, 0x00, 0x00, // payload size 16
      ...ID, // client ID
    ],
    value: { code: ResponseCode.Registered, clientId: new Uint8Array(ID) },
  },
  {
    what: '1601 registration failed',
    bytes: [
      0x03, // version 3
      0x41, 0x06, // code 1601 (0x0641)
      0x00, 0x00, 0x00, 0x00, // payload size 0
    ],
    value: { code: ResponseCode.RegisterFailed },
  },
  {
    what: '1602 public key accepted, AES key',
    bytes: [
      0x03, // version 3
      0x42, 0x06, // code 1602 (0x0642)
      0x90, 0x00, 0x00, 0x00, // payload size 144 = 16 + 128
      ...ID, // client ID
      ...KEY_128, // encrypted AES key, 128 bytes
    ],
    value: { code: ResponseCode.PublicKeyAccepted, clientId: new Uint8Array(ID), encryptedKey: new Uint8Array(KEY_128) },
  },
  {
    what: '1603 file received, CRC',
    bytes: [
      0x03, // version 3
      0x43, 0x06, // code 1603 (0x0643)
      0x17, 0x01, 0x00, 0x00, // payload size 279 = 16 + 4 + 255 + 4
      ...ID, // client ID
      0x30, 0x00, 0x00, 0x00, // content size 48
      ...ascii('report.pdf'), 0x00, ...zeros(244), // file name
      0x11, 0x60, 0x7a, 0x37, // cksum 930766865 (0x377a6011, cksum of "123456789")
    ],
    value: {
      code: ResponseCode.FileReceived,
      clientId: new Uint8Array(ID),
      contentSize: 48,
      fileName: 'report.pdf',
      cksum: 930766865,
    },
  },
  {
    what: '1603 with u32 maxima',
    bytes: [
      0x03, // version 3
      0x43, 0x06, // code 1603
      0x17, 0x01, 0x00, 0x00, // payload size 279
      ...ID, // client ID
      0xff, 0xff, 0xff, 0xff, // content size 4294967295
      ...ascii('~'.repeat(254)), 0x00, // file name: 254 characters, then NUL
      0xff, 0xff, 0xff, 0xff, // cksum 4294967295 (cksum of empty input)
    ],
    value: {
      code: ResponseCode.FileReceived,
      clientId: new Uint8Array(ID),
      contentSize: 0xffffffff,
      fileName: '~'.repeat(254),
      cksum: 0xffffffff,
    },
  },
  {
    what: '1604 thanks',
    bytes: [
      0x03, // version 3
      0x44, 0x06, // code 1604 (0x0644)
      0x10, 0x00, 0x00, 0x00, // payload size 16
      ...ID, // client ID
    ],
    value: { code: ResponseCode.Thanks, clientId: new Uint8Array(ID) },
  },
  {
    what: '1605 reconnected, new AES key',
    bytes: [
      0x03, // version 3
      0x45, 0x06, // code 1605 (0x0645)
      0x90, 0x00, 0x00, 0x00, // payload size 144 = 16 + 128
      ...ID, // client ID
      ...KEY_128, // encrypted AES key, 128 bytes
    ],
    value: { code: ResponseCode.Reconnected, clientId: new Uint8Array(ID), encryptedKey: new Uint8Array(KEY_128) },
  },
  {
    what: '1606 reconnect rejected',
    bytes: [
      0x03, // version 3
      0x46, 0x06, // code 1606 (0x0646)
      0x10, 0x00, 0x00, 0x00, // payload size 16
      ...ID, // client ID
    ],
    value: { code: ResponseCode.ReconnectRejected, clientId: new Uint8Array(ID) },
  },
  {
    what: '1607 server error',
    bytes: [
      0x03, // version 3
      0x47, 0x06, // code 1607 (0x0647)
      0x00, 0x00, 0x00, 0x00, // payload size 0
    ],
    value: { code: ResponseCode.ServerError },
  },
];

function decodeFrame(bytes: Uint8Array): Response {
  const header = decodeResponseHeader(bytes);
  expect(header.payloadSize).toBe(bytes.length - RESPONSE_HEADER_SIZE);
  return decodeResponse(header, bytes.subarray(RESPONSE_HEADER_SIZE));
}

describe('response byte vectors', () => {
  test('cover every response code', () => {
    expect(new Set(vectors.map((v) => v.value.code))).toEqual(new Set(Object.values(ResponseCode)));
  });

  describe.each(vectors)('$what', ({ bytes, value }) => {
    const frame = new Uint8Array(bytes);
    test('decodes to the object', () => {
      expect(decodeFrame(frame)).toEqual(value);
    });
    test('encodes to the bytes', () => {
      expect(encodeResponse(value)).toEqual(frame);
    });
    test('round-trips', () => {
      expect(decodeFrame(encodeResponse(value))).toEqual(value);
      expect(encodeResponse(decodeFrame(frame))).toEqual(frame);
    });
  });

  test('decoded fields are copies, not views of the input', () => {
    const frame = new Uint8Array(vectors[2]!.bytes);
    const res = decodeFrame(frame);
    frame.fill(0xee);
    expect(res).toEqual(vectors[2]!.value);
  });
});

const header = (code: number, payloadSize: number, version = 3): ResponseHeader => ({
  version,
  code,
  payloadSize,
});
const decodePayload =
  (code: number, payload: number[], version = 3): (() => Response) =>
  () =>
    decodeResponse(header(code, payload.length, version), new Uint8Array(payload));

describe('response decode: lenient cases', () => {
  test('1606 with an empty payload is accepted (some servers send no client ID)', () => {
    expect(decodePayload(1606, [])()).toEqual({ code: 1606, clientId: new Uint8Array(16) });
  });

  test('1601 and 1607 ignore a payload', () => {
    expect(decodePayload(1601, [1, 2, 3])()).toEqual({ code: 1601 });
    expect(decodePayload(1607, ID)()).toEqual({ code: 1607 });
  });

  test('1602/1605 accept a key of another length (another RSA size)', () => {
    expect(decodePayload(1602, [...ID, ...seq(256)])()).toEqual({
      code: 1602,
      clientId: new Uint8Array(ID),
      encryptedKey: new Uint8Array(seq(256)),
    });
    expect(decodePayload(1605, [...ID, 0x42])()).toMatchObject({ encryptedKey: new Uint8Array([0x42]) });
  });
});

describe('response decode errors', () => {
  test('1602 and 1605 without a key are rejected', () => {
    for (const code of [1602, 1605]) {
      expectProtocolError(decodePayload(code, ID), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
      expectProtocolError(decodePayload(code, ID.slice(0, 8)), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
      expectProtocolError(decodePayload(code, []), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
    }
  });

  test.each([
    [1600, [0, 15, 17, 144]],
    [1603, [0, 16, 278, 280]],
    [1604, [0, 15, 17]],
    [1606, [1, 15, 17]],
  ])('wrong payload size for %i: %j', (code, sizes) => {
    for (const size of sizes)
      expectProtocolError(decodePayload(code, seq(size, 0x41)), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
  });

  test('1603 with a malformed file name', () => {
    const frame = (name: number[]) => [...ID, 0, 0, 0, 0, ...name, 0, 0, 0, 0];
    expectProtocolError(decodePayload(1603, frame(new Array(255).fill(0x61))), 'PROTO_ERR_NAME_NO_NUL');
    expectProtocolError(decodePayload(1603, frame(zeros(255))), 'PROTO_ERR_NAME_EMPTY');
    expectProtocolError(
      decodePayload(1603, frame([0x61, 0x0a, ...zeros(253)])),
      'PROTO_ERR_NAME_CONTROL_CHAR',
    );
    expectProtocolError(decodePayload(1603, frame([0x61, 0xe9, ...zeros(253)])), 'PROTO_ERR_NAME_NOT_ASCII');
  });

  test.each([0, 1025, 1599, 1608, 0xffff])('unknown code %i', (code) => {
    expectProtocolError(decodePayload(code, []), 'PROTO_ERR_UNKNOWN_CODE');
  });

  test.each([0, 2, 4, 255])('wrong version %i', (version) => {
    expectProtocolError(decodePayload(1600, ID, version), 'PROTO_ERR_BAD_VERSION');
  });

  test('a truncated header', () => {
    expectProtocolError(() => decodeResponseHeader(new Uint8Array(6)), 'PROTO_ERR_TRUNCATED');
  });
});

describe('response encode errors', () => {
  const id = new Uint8Array(ID);
  const fileReceived = {
    code: ResponseCode.FileReceived,
    clientId: id,
    contentSize: 1,
    fileName: 'f',
    cksum: 1,
  } as const;

  test('1602/1605 with an empty key are rejected (the decoder would reject the frame)', () => {
    for (const code of [ResponseCode.PublicKeyAccepted, ResponseCode.Reconnected]) {
      expectProtocolError(
        () => encodeResponse({ code, clientId: id, encryptedKey: new Uint8Array(0) }),
        'PROTO_ERR_BAD_FIELD',
      );
      expectProtocolError(
        () => encodeResponse({ code, clientId: id, encryptedKey: new Uint8Array(4081) }),
        'PROTO_ERR_BAD_FIELD',
      );
      expect(encodeResponse({ code, clientId: id, encryptedKey: new Uint8Array(4080) }).length).toBe(
        7 + 4096,
      );
    }
  });

  test('a client ID that is not 16 bytes', () => {
    for (const n of [0, 15, 17]) {
      const clientId = new Uint8Array(n);
      expectProtocolError(
        () => encodeResponse({ code: ResponseCode.Registered, clientId }),
        'PROTO_ERR_BAD_FIELD',
      );
      expectProtocolError(
        () => encodeResponse({ code: ResponseCode.Reconnected, clientId, encryptedKey: new Uint8Array(128) }),
        'PROTO_ERR_BAD_FIELD',
      );
      expectProtocolError(() => encodeResponse({ ...fileReceived, clientId }), 'PROTO_ERR_BAD_FIELD');
    }
  });

  test.each([
    ['contentSize', 0x1_0000_0000],
    ['contentSize', -1],
    ['contentSize', 0.5],
    ['cksum', 0x1_0000_0000],
    ['cksum', -1],
    ['cksum', Number.NaN],
  ])('1603 %s = %d does not fit a u32', (field, value) => {
    expectProtocolError(() => encodeResponse({ ...fileReceived, [field]: value }), 'PROTO_ERR_BAD_FIELD');
  });

  test('1603 file names: 254 characters encode, 255 and malformed ones are rejected', () => {
    const ok = { ...fileReceived, fileName: 'n'.repeat(254) };
    expect(decodeFrame(encodeResponse(ok))).toEqual(ok);
    expectProtocolError(
      () => encodeResponse({ ...fileReceived, fileName: 'n'.repeat(255) }),
      'PROTO_ERR_NAME_TOO_LONG',
    );
    expectProtocolError(() => encodeResponse({ ...fileReceived, fileName: '' }), 'PROTO_ERR_NAME_EMPTY');
    expectProtocolError(
      () => encodeResponse({ ...fileReceived, fileName: 'a\rb' }),
      'PROTO_ERR_NAME_CONTROL_CHAR',
    );
    expectProtocolError(
      () => encodeResponse({ ...fileReceived, fileName: 'naïve' }),
      'PROTO_ERR_NAME_NOT_ASCII',
    );
  });

  test('an unknown code (untyped caller)', () => {
    expectProtocolError(
      () => encodeResponse({ code: 1608 } as unknown as Response),
      'PROTO_ERR_UNKNOWN_CODE',
    );
  });

  test('header fields that do not fit', () => {
    const h = header(1600, 16);
    expectProtocolError(
      () => encodeResponseHeader({ ...h, payloadSize: 0x1_0000_0000 }),
      'PROTO_ERR_BAD_PAYLOAD_SIZE',
    );
    expectProtocolError(() => encodeResponseHeader({ ...h, version: -1 }), 'PROTO_ERR_BAD_VERSION');
    expectProtocolError(() => encodeResponseHeader({ ...h, code: 0x1_0000 }), 'PROTO_ERR_UNKNOWN_CODE');
    expectProtocolError(() => encodeResponseHeader(h, new Uint8Array(9), 3), 'PROTO_ERR_BAD_FIELD');
    const into = new Uint8Array(10).fill(0xaa);
    encodeResponseHeader(h, into, 3);
    expect(decodeResponseHeader(into.subarray(3))).toEqual(h);
    expect(into[2]).toBe(0xaa);
    expect(decodeResponseHeader(encodeResponseHeader({ ...h, payloadSize: 0xffffffff }))).toEqual({
      ...h,
      payloadSize: 0xffffffff,
    });
  });
});
