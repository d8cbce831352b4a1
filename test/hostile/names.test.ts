/**
 * Hostile client names and file names against the real server process (issue 7): no NUL,
 * empty, control characters, non-ASCII bytes, 255 bytes, `../`, absolute paths,
 * backslashes, reserved device names, and names that collide once sanitised, generated
 * property-style for two attacking clients. Nothing is written outside the uploading
 * client's folder, no two names of a client share a stored file (not even by case), each
 * name holds exactly the bytes last sent under it, and the baseline of two other clients is
 * byte-identical with unchanged rows.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  encodeRequestHeader,
  NAME_FIELD_SIZE,
  PROTOCOL_VERSION,
  REQUEST_HEADER_SIZE,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol';
import {
  type Baseline,
  type Client,
  expectConfined,
  expectHealthy,
  expectIntact,
  type FrameConn,
  fileFrames,
  fileRows,
  hex,
  randomName,
  reconnect,
  register,
  type ServerProcess,
  seedBaseline,
  sha256,
  startServerProcess,
  tcpConn,
} from '../support/hostile';

let srv: ServerProcess;
let base: Baseline;
let attackers: Client[];
/** client hex -> FileName -> SHA-256 of the bytes last stored under it. */
const expected = new Map<string, Map<string, string>>();

beforeAll(async () => {
  srv = await startServerProcess();
  const c = await tcpConn(srv.port);
  base = await seedBaseline(c, srv.data);
  attackers = [await register(c, randomName('mallory')), await register(c, randomName('trudy'))];
  c.close();
});

afterAll(async () => {
  await srv?.dispose();
});

/** A 255-byte field holding `bytes` as is (no validation, no terminator added beyond zero fill). */
function field(bytes: Uint8Array): Uint8Array {
  const f = new Uint8Array(NAME_FIELD_SIZE);
  f.set(bytes.subarray(0, NAME_FIELD_SIZE));
  return f;
}

/** The text the server must see for a field: up to the first NUL, if printable ASCII and non-empty. */
function validText(raw: Uint8Array): string | null {
  const bytes = field(raw);
  const nul = bytes.indexOf(0);
  if (nul < 0 || nul >= NAME_FIELD_SIZE) return null;
  const text = bytes.subarray(0, nul);
  if (text.length === 0 || text.some((b) => b < 0x20 || b > 0x7e)) return null;
  return Buffer.from(text).toString('latin1');
}

const PIECES = [
  '..',
  '.',
  '/',
  '\\',
  '../',
  '..\\',
  '/etc/passwd',
  'C:\\Windows\\',
  'CON',
  'con',
  'NUL',
  'nul.txt',
  'com1.txt',
  'COM9',
  'LPT1',
  'AUX.',
  'prn ',
  'a',
  'b',
  'A',
  'report.pdf',
  'REPORT.PDF',
  'notes.txt',
  '.txt',
  ' ',
  '~',
  ':',
  '*',
  '?',
  '"',
  '<',
  '>',
  '|',
  '%2e%2e%2f',
  'x'.repeat(130),
  '.hidden',
  '_',
];

/** A hostile file name field: pieces joined (often colliding once sanitised), or raw bytes. */
const arbNameBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 })
      .map((parts) => Buffer.from(`${parts.join('')}\0`, 'latin1').subarray(0, NAME_FIELD_SIZE)),
  },
  // Exactly 254 characters + NUL, and 255 without NUL.
  fc.constantFrom(Buffer.from(`${'n'.repeat(254)}\0`), Buffer.alloc(255, 0x6e)),
  // Control characters, non-ASCII bytes (UTF-8 and Latin-1), empty.
  fc.constantFrom(
    Buffer.from('a\x01b\0', 'latin1'),
    Buffer.from('tab\there\0', 'latin1'),
    Buffer.from('new\nline\0', 'latin1'),
    Buffer.from('del\x7f\0', 'latin1'),
    Buffer.from('caf\xc3\xa9.txt\0', 'latin1'),
    Buffer.from('\xff\xfe\0', 'latin1'),
    Buffer.from('\0', 'latin1'),
    Buffer.from('\0../../escape', 'latin1'),
  ),
  fc.uint8Array({ minLength: 1, maxLength: 255 }),
);

/** Uploads `data` under a raw file name field; returns the server's answer. */
async function uploadRaw(
  conn: FrameConn,
  c: Client,
  name: Uint8Array,
  data: Uint8Array,
): Promise<number | undefined> {
  for (const f of fileFrames(c, 'placeholder', data, 4096)) {
    const g = Buffer.from(f);
    g.set(field(name), REQUEST_HEADER_SIZE + 12);
    await conn.sendFrame(g);
  }
  return (await conn.next())?.code;
}

describe('hostile names', () => {
  it('client names: malformed fields get 1601 and create nothing; odd but valid text is stored as data only', async () => {
    const conn = await tcpConn(srv.port);
    const cases: Uint8Array[] = [
      Buffer.alloc(255, 0x41), // no NUL
      Buffer.from('\0'), // empty
      Buffer.from('ctl\x01\0', 'latin1'),
      Buffer.from('\xc3\xa9l\xc3\xa8ve\0', 'latin1'),
      Buffer.from(`${'n'.repeat(101)}\0`), // over the 100-character limit
      Buffer.from(`../../${randomName('evil')}\0`), // valid text: a name, not a path
      Buffer.from(`CON-${randomName('x')}\0`),
    ];
    for (const bytes of cases) {
      const frame = Buffer.alloc(REQUEST_HEADER_SIZE + NAME_FIELD_SIZE);
      encodeRequestHeader(
        {
          clientId: new Uint8Array(16),
          version: PROTOCOL_VERSION,
          code: RequestCode.Register,
          payloadSize: 255,
        },
        frame,
      );
      frame.set(field(bytes), REQUEST_HEADER_SIZE);
      await conn.sendFrame(frame);
      const r = await conn.next();
      const text = validText(bytes);
      if (text === null || text.length > 100)
        expect(r?.code, JSON.stringify(text)).toBe(ResponseCode.RegisterFailed);
      else expect(r?.code, text).toBe(ResponseCode.Registered);
    }
    conn.close();
    expectConfined(srv.data);
    expectIntact(srv.data, base.state);
  });

  it('file names, property-based for two clients: confined, no shared stored file, the last bytes per name, baseline intact', async () => {
    let stored = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.array(arbNameBytes, { minLength: 4, maxLength: 16 }),
        async (who, names) => {
          const conn = await tcpConn(srv.port);
          try {
            const me = await reconnect(conn, attackers[who]!);
            const mine = expected.get(hex(me.clientId)) ?? new Map<string, string>();
            expected.set(hex(me.clientId), mine);
            for (const name of names) {
              const data = randomBytes(1 + (name.length % 300));
              const code = await uploadRaw(conn, me, name, data);
              const text = validText(name);
              if (text === null) {
                expect(code, `malformed ${Buffer.from(name).toString('hex')}`).toBe(ResponseCode.ServerError);
              } else {
                expect(code, text).toBe(ResponseCode.FileReceived);
                mine.set(text, sha256(data));
                stored++;
              }
            }
          } finally {
            conn.close();
          }
          for (const a of attackers) {
            const rows = fileRows(srv.data).filter((r) => hex(r.ID) === hex(a.clientId));
            const mine = expected.get(hex(a.clientId)) ?? new Map();
            expect(rows.map((r) => r.FileName).sort()).toEqual([...mine.keys()].sort());
            // Distinct names, distinct stored files, even ignoring case (copies to Windows/macOS).
            expect(new Set(rows.map((r) => r.PathName.toLowerCase())).size).toBe(rows.length);
            for (const r of rows) {
              expect(sha256(readFileSync(join(srv.data, 'files', r.PathName))), r.FileName).toBe(
                mine.get(r.FileName),
              );
            }
          }
          expectConfined(srv.data);
          expectIntact(srv.data, base.state);
        },
      ),
      { numRuns: 25 },
    );
    expect(stored).toBeGreaterThan(50);
    await expectHealthy(() => tcpConn(srv.port), srv.data);
  });
});
