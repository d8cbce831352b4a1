import { describe, expect, test } from 'vitest';
import { expectProtocolError } from '../../test/support/arbitraries';
import { REQUEST_HEADER_SIZE, RequestCode } from './constants';
import type { ProtocolErrorCode } from './errors';
import { decodeRequestHeader, encodeRequestHeader, type RequestHeader } from './headers';
import {
  decodeRequest,
  encodeRequest,
  encodeSendFilePrefix,
  type Request,
  type SendFileRequest,
} from './requests';

// Byte helpers: vectors are spelled out here, independent of the encoder under test.
const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));
const zeros = (n: number): number[] => new Array<number>(n).fill(0);
const fill = (n: number, b: number): number[] => new Array<number>(n).fill(b);
const seq = (n: number, from = 0): number[] => Array.from({ length: n }, (_, i) => (from + i) & 0xff);

const ID = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f];
const ZERO_ID = zeros(16);

// A DER SubjectPublicKeyInfo of RSA-1024 with e=17: exactly 160 bytes.
const SPKI = [
  ...[0x30, 0x81, 0x9d], // SEQUENCE, 157 bytes
  ...[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00], // rsaEncryption, NULL
  ...[0x03, 0x81, 0x8b, 0x00], // BIT STRING, 139 bytes, 0 unused bits
  ...[0x30, 0x81, 0x87], // SEQUENCE, 135 bytes
  ...[0x02, 0x81, 0x81, 0x00], // INTEGER modulus, 129 bytes (leading 0x00)
  ...fill(128, 0xc5), // modulus
  ...[0x02, 0x01, 0x11], // INTEGER exponent 17
];

const CONTENT_32 = seq(32, 0xa0);

interface Vector {
  what: string;
  bytes: number[];
  value: Request;
}

// biome-ignore format: annotated byte vectors, one wire field per line
const vectors: Vector[] = [
  {
    what: '1025 register',
    bytes: [
      ...ZERO_ID, // client ID: zeros before registration
      0x03, // version 3
      0x01, 0x04, // code 1025 (0x0401)
      0xff, 0x00, 0x00, 0x00, // payload size 255
      ...ascii('alice'), 0x00, ...zeros(249), // name "alice", NUL, zero padding to 255
    ],
    value: { code: RequestCode.Register, clientId: new Uint8Array(ZERO_ID), name: 'alice' },
  },
  {
    what: '1026 send public key',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x02, 0x04, // code 1026 (0x0402)
      0x9f, 0x01, 0x00, 0x00, // payload size 415 = 255 + 160
      ...ascii('alice'), 0x00, ...zeros(249), // name
      ...SPKI, // public key, 160 bytes
    ],
    value: { code: RequestCode.SendPublicKey, clientId: new Uint8Array(ID), name: 'alice', publicKey: new Uint8Array(SPKI) },
  },
  {
    what: '1027 reconnect',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x03, 0x04, // code 1027 (0x0403)
      0xff, 0x00, 0x00, 0x00, // payload size 255
      ...ascii('Bob Smith 2'), 0x00, ...zeros(243), // name "Bob Smith 2"
    ],
    value: { code: RequestCode.Reconnect, clientId: new Uint8Array(ID), name: 'Bob Smith 2' },
  },
  {
    what: '1028 send file, single packet',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x04, 0x04, // code 1028 (0x0404)
      0x2b, 0x01, 0x00, 0x00, // payload size 299 = 267 + 32
      0x20, 0x00, 0x00, 0x00, // content size 32 (ciphertext)
      0x14, 0x00, 0x00, 0x00, // orig file size 20 (plaintext)
      0x01, 0x00, // packet number 1
      0x01, 0x00, // total packets 1
      ...ascii('report.pdf'), 0x00, ...zeros(244), // file name
      ...CONTENT_32, // content, 32 bytes
    ],
    value: {
      code: RequestCode.SendFile,
      clientId: new Uint8Array(ID),
      contentSize: 32,
      origSize: 20,
      packetNumber: 1,
      totalPackets: 1,
      fileName: 'report.pdf',
      content: new Uint8Array(CONTENT_32),
    },
  },
  {
    what: '1028 last packet zero-padded past content size',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x04, 0x04, // code 1028
      0x2b, 0x01, 0x00, 0x00, // payload size 299 = 267 + 32 (fixed packet size)
      0x30, 0x00, 0x00, 0x00, // content size 48: packet 1 had 32 bytes, this one 16
      0x25, 0x00, 0x00, 0x00, // orig file size 37
      0x02, 0x00, // packet number 2
      0x02, 0x00, // total packets 2
      ...ascii('a.bin'), 0x00, ...zeros(249), // file name
      ...seq(16, 0x40), ...zeros(16), // 16 ciphertext bytes, then 16 bytes of zero padding
    ],
    value: {
      code: RequestCode.SendFile,
      clientId: new Uint8Array(ID),
      contentSize: 48,
      origSize: 37,
      packetNumber: 2,
      totalPackets: 2,
      fileName: 'a.bin',
      content: new Uint8Array([...seq(16, 0x40), ...zeros(16)]), // padding is kept: the server trims
    },
  },
  {
    what: '1028 packet number 0 (clients counting from 0), large sizes',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x04, 0x04, // code 1028
      0x0f, 0x01, 0x00, 0x00, // payload size 271 = 267 + 4
      0xf0, 0xff, 0xff, 0xff, // content size 0xfffffff0
      0xef, 0xff, 0xff, 0xff, // orig file size 0xffffffef
      0x00, 0x00, // packet number 0
      0xff, 0xff, // total packets 65535
      ...ascii('x'), 0x00, ...zeros(253), // file name "x"
      0xde, 0xad, 0xbe, 0xef, // content, 4 bytes
    ],
    value: {
      code: RequestCode.SendFile,
      clientId: new Uint8Array(ID),
      contentSize: 0xfffffff0,
      origSize: 0xffffffef,
      packetNumber: 0,
      totalPackets: 0xffff,
      fileName: 'x',
      content: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
    },
  },
  {
    what: '1028 with empty content',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x04, 0x04, // code 1028
      0x0b, 0x01, 0x00, 0x00, // payload size 267 (fixed part only)
      0x10, 0x00, 0x00, 0x00, // content size 16
      0x00, 0x00, 0x00, 0x00, // orig file size 0
      0x01, 0x00, // packet number 1
      0x01, 0x00, // total packets 1
      ...ascii('empty.txt'), 0x00, ...zeros(245), // file name
    ],
    value: {
      code: RequestCode.SendFile,
      clientId: new Uint8Array(ID),
      contentSize: 16,
      origSize: 0,
      packetNumber: 1,
      totalPackets: 1,
      fileName: 'empty.txt',
      content: new Uint8Array(0),
    },
  },
  {
    what: '1029 CRC ok',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x05, 0x04, // code 1029 (0x0405)
      0xff, 0x00, 0x00, 0x00, // payload size 255
      ...ascii('report.pdf'), 0x00, ...zeros(244), // file name
    ],
    value: { code: RequestCode.CrcOk, clientId: new Uint8Array(ID), fileName: 'report.pdf' },
  },
  {
    what: '1030 CRC retry',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x06, 0x04, // code 1030 (0x0406)
      0xff, 0x00, 0x00, 0x00, // payload size 255
      ...ascii('dir/with space.tar.gz'), 0x00, ...zeros(233), // file name
    ],
    value: { code: RequestCode.CrcRetry, clientId: new Uint8Array(ID), fileName: 'dir/with space.tar.gz' },
  },
  {
    what: '1031 CRC abort',
    bytes: [
      ...ID, // client ID
      0x03, // version 3
      0x07, 0x04, // code 1031 (0x0407)
      0xff, 0x00, 0x00, 0x00, // payload size 255
      ...fill(254, 0x7a), 0x00, // file name: 254 x "z", the longest that fits, then NUL
    ],
    value: { code: RequestCode.CrcAbort, clientId: new Uint8Array(ID), fileName: 'z'.repeat(254) },
  },
];

function decodeFrame(bytes: Uint8Array): Request {
  const header = decodeRequestHeader(bytes);
  expect(header.payloadSize).toBe(bytes.length - REQUEST_HEADER_SIZE);
  return decodeRequest(header, bytes.subarray(REQUEST_HEADER_SIZE));
}

describe('request byte vectors', () => {
  test('cover every request code', () => {
    expect(new Set(vectors.map((v) => v.value.code))).toEqual(new Set(Object.values(RequestCode)));
  });

  describe.each(vectors)('$what', ({ bytes, value }) => {
    const frame = new Uint8Array(bytes);
    test('decodes to the object', () => {
      expect(decodeFrame(frame)).toEqual(value);
    });
    test('encodes to the bytes', () => {
      expect(encodeRequest(value)).toEqual(frame);
    });
    test('round-trips', () => {
      expect(decodeFrame(encodeRequest(value))).toEqual(value);
      expect(encodeRequest(decodeFrame(frame))).toEqual(frame);
    });
  });

  test.each(vectors.filter((v) => v.value.code === RequestCode.SendFile))(
    '$what: encodeSendFilePrefix + content equals encodeRequest',
    ({ bytes, value }) => {
      const req = value as SendFileRequest;
      const prefix = encodeSendFilePrefix(req, req.content.length);
      expect(prefix.length).toBe(REQUEST_HEADER_SIZE + 267);
      const joined = new Uint8Array(prefix.length + req.content.length);
      joined.set(prefix);
      joined.set(req.content, prefix.length);
      expect(joined).toEqual(new Uint8Array(bytes));
      expect(joined).toEqual(encodeRequest(req));
    },
  );

  test('decoded client ID and key do not alias the header scratch or later writes', () => {
    const frame = new Uint8Array(vectors[1]!.bytes);
    const req = decodeFrame(frame) as Extract<Request, { code: 1026 }>;
    frame.fill(0xee);
    expect(req.clientId).toEqual(new Uint8Array(ID));
    expect(req.publicKey).toEqual(new Uint8Array(SPKI));
  });
});

const header = (code: number, payloadSize: number, version = 3): RequestHeader => ({
  clientId: new Uint8Array(ID),
  version,
  code,
  payloadSize,
});
const decodePayload =
  (code: number, payload: number[], version = 3) =>
  () =>
    decodeRequest(header(code, payload.length, version), new Uint8Array(payload));
const nameField = (text: string): number[] => [...ascii(text), ...zeros(255 - text.length)];

describe('request decode errors', () => {
  test('name field without NUL', () => {
    expectProtocolError(decodePayload(1025, fill(255, 0x61)), 'PROTO_ERR_NAME_NO_NUL');
    expectProtocolError(decodePayload(1029, fill(255, 0x61)), 'PROTO_ERR_NAME_NO_NUL');
    expectProtocolError(decodePayload(1026, [...fill(255, 0x61), ...SPKI]), 'PROTO_ERR_NAME_NO_NUL');
  });

  test('empty name (NUL first)', () => {
    expectProtocolError(decodePayload(1025, zeros(255)), 'PROTO_ERR_NAME_EMPTY');
    expectProtocolError(decodePayload(1027, zeros(255)), 'PROTO_ERR_NAME_EMPTY');
    expectProtocolError(decodePayload(1030, zeros(255)), 'PROTO_ERR_NAME_EMPTY');
    expectProtocolError(decodePayload(1028, [...zeros(12), ...zeros(255), 1, 2, 3]), 'PROTO_ERR_NAME_EMPTY');
  });

  test.each([0x01, 0x09, 0x0a, 0x0d, 0x1b, 0x1f, 0x7f])('control character 0x%s in a name', (b) => {
    expectProtocolError(decodePayload(1025, [0x61, b, 0x62, ...zeros(252)]), 'PROTO_ERR_NAME_CONTROL_CHAR');
    expectProtocolError(decodePayload(1031, [b, ...zeros(254)]), 'PROTO_ERR_NAME_CONTROL_CHAR');
  });

  test.each([0x80, 0xc3, 0xe9, 0xff])('non-ASCII byte 0x%s in a name', (b) => {
    expectProtocolError(decodePayload(1027, [0x61, b, ...zeros(253)]), 'PROTO_ERR_NAME_NOT_ASCII');
    expectProtocolError(decodePayload(1029, [b, ...zeros(254)]), 'PROTO_ERR_NAME_NOT_ASCII');
  });

  test('bytes after the NUL are ignored (only the text before the first NUL counts)', () => {
    const req = decodeRequest(
      header(1025, 255),
      new Uint8Array([...ascii('ab'), 0x00, 0xff, 0x01, ...zeros(250)]),
    );
    expect(req).toMatchObject({ name: 'ab' });
  });

  test('a client name of 101..254 characters decodes (the server judges the length)', () => {
    expect(decodeRequest(header(1025, 255), new Uint8Array(nameField('n'.repeat(101))))).toMatchObject({
      name: 'n'.repeat(101),
    });
    expect(decodeRequest(header(1027, 255), new Uint8Array([...fill(254, 0x6e), 0]))).toMatchObject({
      name: 'n'.repeat(254),
    });
  });

  test.each([
    [1025, [0, 254, 256, 415]],
    [1026, [0, 255, 414, 416]],
    [1027, [0, 254, 256]],
    [1028, [0, 12, 266]],
    [1029, [0, 254, 256]],
    [1030, [0, 254, 256]],
    [1031, [0, 254, 256]],
  ])('wrong payload size for %i: %j', (code, sizes) => {
    for (const size of sizes) {
      const payload = [...nameField('abc'), ...zeros(Math.max(0, size - 255))].slice(0, size);
      expectProtocolError(decodePayload(code, payload), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
    }
  });

  test.each([0, 1024, 1032, 1600, 0xffff])('unknown code %i', (code) => {
    expectProtocolError(decodePayload(code, nameField('abc')), 'PROTO_ERR_UNKNOWN_CODE');
  });

  test.each([0, 1, 2, 4, 255])('wrong version %i', (version) => {
    expectProtocolError(decodePayload(1025, nameField('abc'), version), 'PROTO_ERR_BAD_VERSION');
  });

  test('a truncated header', () => {
    expectProtocolError(() => decodeRequestHeader(new Uint8Array(22)), 'PROTO_ERR_TRUNCATED');
  });

  test('a client ID that is not 16 bytes', () => {
    const h = { ...header(1025, 255), clientId: new Uint8Array(15) };
    expectProtocolError(() => decodeRequest(h, new Uint8Array(nameField('abc'))), 'PROTO_ERR_BAD_FIELD');
  });
});

const fileFields = {
  clientId: new Uint8Array(ID),
  contentSize: 32,
  origSize: 20,
  packetNumber: 1,
  totalPackets: 1,
  fileName: 'f',
};

describe('request encode errors', () => {
  const id = new Uint8Array(ID);
  const key = new Uint8Array(SPKI);
  const withName = (name: string): Request[] => [
    { code: RequestCode.Register, clientId: id, name },
    { code: RequestCode.SendPublicKey, clientId: id, name, publicKey: key },
    { code: RequestCode.Reconnect, clientId: id, name },
  ];
  const withFileName = (fileName: string): Request[] => [
    { ...fileFields, code: RequestCode.SendFile, fileName, content: new Uint8Array(4) },
    { code: RequestCode.CrcOk, clientId: id, fileName },
    { code: RequestCode.CrcRetry, clientId: id, fileName },
    { code: RequestCode.CrcAbort, clientId: id, fileName },
  ];

  test('client names: 100 characters encode, 101 are rejected (1025, 1026, 1027)', () => {
    for (const req of withName('c'.repeat(100))) expect(decodeFrame(encodeRequest(req))).toEqual(req);
    for (const req of withName('c'.repeat(101)))
      expectProtocolError(() => encodeRequest(req), 'PROTO_ERR_NAME_TOO_LONG');
    for (const req of withName('c'.repeat(254)))
      expectProtocolError(() => encodeRequest(req), 'PROTO_ERR_NAME_TOO_LONG');
  });

  test('file names: 254 characters encode, 255 are rejected (1028..1031)', () => {
    for (const req of withFileName('F'.repeat(254))) expect(decodeFrame(encodeRequest(req))).toEqual(req);
    for (const req of withFileName('F'.repeat(255)))
      expectProtocolError(() => encodeRequest(req), 'PROTO_ERR_NAME_TOO_LONG');
    expectProtocolError(
      () => encodeSendFilePrefix({ ...fileFields, fileName: 'F'.repeat(255) }, 0),
      'PROTO_ERR_NAME_TOO_LONG',
    );
  });

  test('empty, control-character and non-ASCII names are rejected on encode', () => {
    const cases: [string, ProtocolErrorCode][] = [
      ['', 'PROTO_ERR_NAME_EMPTY'],
      ['a\0b', 'PROTO_ERR_NAME_CONTROL_CHAR'],
      ['a\nb', 'PROTO_ERR_NAME_CONTROL_CHAR'],
      ['tab\t', 'PROTO_ERR_NAME_CONTROL_CHAR'],
      ['del\x7f', 'PROTO_ERR_NAME_CONTROL_CHAR'],
      ['café', 'PROTO_ERR_NAME_NOT_ASCII'],
      ['\u0100', 'PROTO_ERR_NAME_NOT_ASCII'],
      ['emoji \u{1f600}', 'PROTO_ERR_NAME_NOT_ASCII'],
    ];
    for (const [text, code] of cases) {
      for (const req of [...withName(text), ...withFileName(text)])
        expectProtocolError(() => encodeRequest(req), code);
    }
  });

  test.each([0, 128, 159, 161, 162])('1026 public key of %i bytes is rejected', (n) => {
    expectProtocolError(
      () =>
        encodeRequest({
          code: RequestCode.SendPublicKey,
          clientId: id,
          name: 'a',
          publicKey: new Uint8Array(n),
        }),
      'PROTO_ERR_BAD_FIELD',
    );
  });

  test.each([
    ['contentSize', 0x1_0000_0000],
    ['contentSize', -1],
    ['contentSize', 1.5],
    ['contentSize', Number.NaN],
    ['origSize', 0x1_0000_0000],
    ['origSize', -1],
    ['packetNumber', 0x1_0000],
    ['packetNumber', -1],
    ['totalPackets', 0x1_0000],
    ['totalPackets', 2.5],
  ])('1028 %s = %d does not fit its field', (field, value) => {
    const req = {
      ...fileFields,
      [field]: value,
      code: RequestCode.SendFile,
      content: new Uint8Array(0),
    } as Request;
    expectProtocolError(() => encodeRequest(req), 'PROTO_ERR_BAD_FIELD');
    expectProtocolError(
      () => encodeSendFilePrefix({ ...fileFields, [field]: value }, 0),
      'PROTO_ERR_BAD_FIELD',
    );
  });

  test('1028 u32/u16 maxima encode', () => {
    const req: Request = {
      ...fileFields,
      code: RequestCode.SendFile,
      contentSize: 0xffffffff,
      origSize: 0xffffffff,
      packetNumber: 0xffff,
      totalPackets: 0xffff,
      content: new Uint8Array(1),
    };
    expect(decodeFrame(encodeRequest(req))).toEqual(req);
  });

  test('a content length that would overflow the u32 payload size', () => {
    expectProtocolError(() => encodeSendFilePrefix(fileFields, 0xffffffff), 'PROTO_ERR_BAD_FIELD');
    expectProtocolError(() => encodeSendFilePrefix(fileFields, 0xffffffff - 267 + 1), 'PROTO_ERR_BAD_FIELD');
    const prefix = encodeSendFilePrefix(fileFields, 0xffffffff - 267);
    expect(decodeRequestHeader(prefix).payloadSize).toBe(0xffffffff);
  });

  test('a client ID that is not 16 bytes', () => {
    for (const n of [0, 15, 17]) {
      expectProtocolError(
        () => encodeRequest({ code: RequestCode.Register, clientId: new Uint8Array(n), name: 'a' }),
        'PROTO_ERR_BAD_FIELD',
      );
    }
  });

  test('an unknown code (untyped caller)', () => {
    expectProtocolError(
      () => encodeRequest({ code: 1032, clientId: id, name: 'a' } as unknown as Request),
      'PROTO_ERR_UNKNOWN_CODE',
    );
  });

  test('header fields that do not fit', () => {
    const h = header(1025, 255);
    expectProtocolError(
      () => encodeRequestHeader({ ...h, payloadSize: 0x1_0000_0000 }),
      'PROTO_ERR_BAD_PAYLOAD_SIZE',
    );
    expectProtocolError(() => encodeRequestHeader({ ...h, payloadSize: -1 }), 'PROTO_ERR_BAD_PAYLOAD_SIZE');
    expectProtocolError(() => encodeRequestHeader({ ...h, version: 256 }), 'PROTO_ERR_BAD_VERSION');
    expectProtocolError(() => encodeRequestHeader({ ...h, code: 0x1_0000 }), 'PROTO_ERR_UNKNOWN_CODE');
    expectProtocolError(() => encodeRequestHeader(h, new Uint8Array(30), 8), 'PROTO_ERR_BAD_FIELD');
    const into = new Uint8Array(31).fill(0xaa);
    encodeRequestHeader(h, into, 8);
    expect(decodeRequestHeader(into.subarray(8))).toEqual(h);
    expect([into[7], into[31 - 1]]).toEqual([0xaa, 0x00]);
    expect(decodeRequestHeader(encodeRequestHeader({ ...h, payloadSize: 0xffffffff }))).toEqual({
      ...h,
      payloadSize: 0xffffffff,
    });
  });
});
