/**
 * Names a v4 sender chooses never reach the owner's terminal with characters a terminal runs
 * or that reorder text: C1 controls (U+009B is CSI, U+009D OSC in a terminal that honours
 * C1), the bidi controls (U+202E makes "invoice\u202Etxt.exe" read as "invoiceexe.txt") and
 * the rest of lib/protocol/name-chars.ts (found by a security review).
 *
 * - The real server process refuses them: a file name gets Error 15 (not fatal: the same
 *   connection then stores a good file), a client name in ClientAuth a fatal Error 1, and
 *   its log writes none of them raw (the refused file name is logged, escaped).
 * - Names stored before the rule (put into the server's database through its own API, as an
 *   older server would have) are shown escaped by `files` and `clients list`, as tables and
 *   as JSON lines (which still decode to the exact name).
 *
 * Our own encoders refuse these names, so the test swaps the name's bytes into the plaintext
 * of ClientAuth or UploadStart just before it is sealed, as another client could send it.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { encodeUtf8 } from '../../lib/protocol/v4/bytes';
import { MessageType } from '../../lib/protocol/v4/constants';
import { RecordSealer } from '../../lib/v4/record-layer';
import { runAdminCommand } from '../../server/admin-command';
import { SqliteDatabase } from '../../server/db';
import { DATABASE_FILE } from '../../server/server';
import { storedV4Name } from '../../server/v4/v4-clients';
import { NO_PEER_LIMITS, type ServerProcess, serverLog, startServerProcess } from '../support/hostile';
import { connectV4, newIdentity, refusedCode, zeroSource } from '../support/v4-client';

/** What must never reach the terminal raw (the review's list, and the marks, separators and BOM). */
const DANGEROUS = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ufeff]/u;

const CSI = '\u009b';
const BAD_FILE = `report${CSI}2J${CSI}1;31mPWNED${CSI}0m-invoice\u202Etxt.exe`;
const BAD_FILE_SHOWN = 'report\\u{9B}2J\\u{9B}1;31mPWNED\\u{9B}0m-invoice\\u{202E}txt.exe';
const BAD_CLIENT = `alice${CSI}8m [v4 hidden]`;

/** Offsets of the name in the plaintexts (docs/PROTOCOL.md). */
const NAME_AT: Partial<Record<number, number>> = {
  [MessageType.ClientAuth]: 98,
  [MessageType.UploadStart]: 64,
};

/**
 * Until the returned function is called, a ClientAuth or UploadStart whose name is `stand-in`
 * (a placeholder of the same UTF-8 length) is sealed with `name` in its place.
 */
function sendNameAs(name: string): { standIn: string; restore(): void } {
  const bytes = encodeUtf8(name);
  const standIn = 'x'.repeat(bytes.length);
  const placeholder = encodeUtf8(standIn);
  const seal = RecordSealer.prototype.seal;
  const spy = vi.spyOn(RecordSealer.prototype, 'seal').mockImplementation(function (
    this: RecordSealer,
    plain,
  ) {
    const at = NAME_AT[plain[0]!];
    if (at !== undefined && Buffer.from(plain.subarray(at, at + bytes.length)).equals(placeholder)) {
      const swapped = plain.slice();
      swapped.set(bytes, at);
      return seal.call(this, swapped);
    }
    return seal.call(this, plain);
  });
  return { standIn, restore: () => spy.mockRestore() };
}

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([...NO_PEER_LIMITS]);
});

afterAll(async () => {
  vi.restoreAllMocks();
  await srv?.dispose();
});

it('refuses C1 and bidi characters in a file name (Error 15, not fatal) and in a client name (Error 1)', async () => {
  const s = await connectV4(srv.port, await newIdentity(), () => {}, 'carol');
  const bad = sendNameAs(BAD_FILE);
  try {
    expect(await refusedCode(s.upload(zeroSource(bad.standIn, 3), {}))).toBe(15);
  } finally {
    bad.restore();
  }
  for (const name of [
    'a\u202Eb.txt',
    'a\u2066b\u2069.txt',
    'nel\u0085',
    'osc\u009d0;x',
    'line\u2028sep',
    'bom\ufeff',
  ]) {
    const other = sendNameAs(name);
    try {
      expect(await refusedCode(s.upload(zeroSource(other.standIn, 3), {})), JSON.stringify(name)).toBe(15);
    } finally {
      other.restore();
    }
  }
  // The connection is still usable: a good name is stored.
  const ok = await s.upload(zeroSource('fine.txt', 3), {});
  expect(ok.size).toBe(3);
  await s.close();

  for (const name of [BAD_CLIENT, 'bob\u202E', 'iso\u2067late', 'mark\u200f']) {
    const client = sendNameAs(name);
    try {
      expect(
        await refusedCode(connectV4(srv.port, await newIdentity(), () => {}, client.standIn)),
        name,
      ).toBe(1);
    } finally {
      client.restore();
    }
  }

  const log = srv.output();
  expect(DANGEROUS.test(log), 'server log').toBe(false);
  // The refused upload is logged: the sentence shows the name escaped, the JSON field keeps
  // it exactly (as \u escapes in the line); the refused client names are not logged at all.
  const refused = serverLog(srv).find((l) => l.event === 'v4-upload-refused' && l.code === 15);
  expect(refused?.msg).toContain(`carol's upload of "${BAD_FILE_SHOWN}" was refused`);
  expect(refused?.file).toBe(JSON.stringify(BAD_FILE));
  expect(log).toContain('report\\u009b2J');
  expect(log).not.toContain('[v4 hidden]');
}, 60_000);

it('shows names stored before the rule escaped in `files` and `clients list`, tables and JSON', async () => {
  await srv.stop('SIGTERM');
  // What an older server stored: a v4 client with such a name and a file with such a name.
  const db = new SqliteDatabase(join(srv.data, DATABASE_FILE));
  const id = randomBytes(16);
  const key = (await newIdentity()).publicRaw;
  const clientName = await storedV4Name(BAD_CLIENT, key);
  try {
    expect(await db.insertV4Client(id, clientName, key, new Date().toISOString())).toBe(true);
    await db.upsertFile({
      id,
      fileName: BAD_FILE,
      pathName: 'c-old/report_2J_1_31mPWNED_0m-invoice_txt.exe',
      size: 3,
      cksum: null,
      receivedAt: new Date().toISOString(),
      token: 'old',
      sha256: '00'.repeat(32),
    });
  } finally {
    await db.close();
  }
  const data = ['--data', srv.data];
  const files = await runAdminCommand(['files', ...data], { tty: true });
  const filesJson = await runAdminCommand(['files', ...data, '--json'], { tty: true });
  const clients = await runAdminCommand(['clients', 'list', ...data], { tty: true });
  const clientsJson = await runAdminCommand(['clients', 'list', ...data, '--json'], { tty: true });
  for (const [what, out] of Object.entries({ files, filesJson, clients, clientsJson }))
    expect(DANGEROUS.test(out), what).toBe(false);

  expect(files).toContain(BAD_FILE_SHOWN);
  expect(files).toContain('alice\\u{9B}8m [v4 hidden] [v4 ');
  expect(clients).toContain('alice\\u{9B}8m [v4 hidden] [v4 ');
  // JSON keeps the exact names, as \u escapes.
  const listed = filesJson
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { fileName: string; client: string });
  expect(listed.map((f) => f.fileName)).toContain(BAD_FILE);
  expect(listed.map((f) => f.client)).toContain(clientName);
  expect(filesJson).toContain('report\\u009b2J');
  const clientRows = clientsJson
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string });
  expect(clientRows.map((c) => c.name)).toContain(clientName);
}, 60_000);
