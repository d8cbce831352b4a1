/**
 * Hostile input against the server process (issue 7): thousands of random and mutated
 * frames over many connections, then a well-behaved client must still register and
 * upload, and a file stored before must be unchanged. Longer run on demand:
 *   SFT_FUZZ_RUNS=20000 npx vitest run test/server/fuzz.test.ts
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join, relative, sep } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EMPTY_CLIENT_ID,
  encodeRequest,
  encodeSendFilePrefix,
  MAX_U32,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol';
import { LOCK_FILES } from '../../server/data-lock';
import { SERVER_KEY_FILES } from '../../server/v4/server-key';
import {
  type Identity,
  RawClient,
  registerAndExchange,
  type SpawnedServer,
  sendFile,
  spawnServer,
  tempDir,
} from '../support/server-helpers';

const RUNS = Number(process.env.SFT_FUZZ_RUNS ?? 1500);
const PARALLEL = 8;

let work: ReturnType<typeof tempDir>;
let srv: SpawnedServer;
let data: string;
let keeper: Identity;
/** A client whose ID never appears in the fuzzed frames: its file must survive unchanged. */
let victim: Identity | undefined;
const kept = randomBytes(50_000);
const victimData = randomBytes(30_000);

beforeAll(async () => {
  work = tempDir('sft-fuzz-');
  data = join(work.path, 'data');
  srv = await spawnServer(
    ['--port', '0', '--data', data, '--max-payload', '1M', '--idle-timeout', '2'],
    work.path,
  );
  const c = await RawClient.connect(srv.port);
  keeper = await registerAndExchange(c, 'keeper');
  await sendFile(c, keeper, { fileName: 'precious.bin', data: kept });
  if ((await c.next())?.code !== ResponseCode.FileReceived) throw new Error('setup upload failed');
  await c.request(
    encodeRequest({ code: RequestCode.CrcOk, clientId: keeper.clientId, fileName: 'precious.bin' }),
  );
  victim = await registerAndExchange(c, 'victim');
  await sendFile(c, victim, { fileName: 'precious.bin', data: victimData });
  if ((await c.next())?.code !== ResponseCode.FileReceived) throw new Error('setup upload failed');
  await c.request(
    encodeRequest({ code: RequestCode.CrcOk, clientId: victim.clientId, fileName: 'precious.bin' }),
  );
  c.close();
});

afterAll(async () => {
  await srv?.stop('SIGKILL');
  work?.remove();
});

/** A plausible frame of any code, sometimes as the keeper (so deeper handlers run). */
const validFrame = fc.oneof(
  fc.string({ minLength: 1, maxLength: 100 }).map((name) => {
    const ascii = name.replace(/[^\x20-\x7e]/g, 'x');
    return encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: ascii });
  }),
  fc
    .constant(null)
    .map(() => encodeRequest({ code: RequestCode.Reconnect, clientId: keeper.clientId, name: 'keeper' })),
  fc
    .record({
      code: fc.constantFrom(RequestCode.CrcOk, RequestCode.CrcRetry, RequestCode.CrcAbort),
      name: fc.constantFrom('precious.bin', '../precious.bin', 'x', 'CON', '/etc/passwd'),
    })
    .map(({ code, name }) => encodeRequest({ code, clientId: keeper.clientId, fileName: name })),
  fc
    .record({
      contentSize: fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.constant(MAX_U32)),
      origSize: fc.integer({ min: 0, max: 5000 }),
      packetNumber: fc.integer({ min: 0, max: 4 }),
      totalPackets: fc.integer({ min: 0, max: 4 }),
      content: fc.uint8Array({ maxLength: 2000 }),
      name: fc.constantFrom('precious.bin', 'a', '../../x', 'nul.txt'),
    })
    .map((f) => {
      const prefix = encodeSendFilePrefix(
        { clientId: keeper.clientId, ...f, fileName: f.name },
        f.content.length,
      );
      return Buffer.concat([prefix, f.content]);
    }),
);

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('size' as const),
    value: fc.oneof(fc.nat(), fc.constant(MAX_U32), fc.integer({ min: 0, max: 400 })),
  }),
  fc.record({ kind: fc.constant('code' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
  fc.record({ kind: fc.constant('version' as const), value: fc.integer({ min: 0, max: 255 }) }),
  fc.constant({ kind: 'none' as const }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(frame: Uint8Array, m: Mutation): Buffer {
  const b = Buffer.from(frame);
  switch (m.kind) {
    case 'flip':
      b[m.at % b.length] = m.value;
      return b;
    case 'truncate':
      return b.subarray(0, m.at % b.length);
    case 'size':
      b.writeUInt32LE(m.value >>> 0, 19);
      return b;
    case 'code':
      b.writeUInt16LE(m.value, 17);
      return b;
    case 'version':
      b[16] = m.value;
      return b;
    default:
      return b;
  }
}

const connectionCase = fc.record({
  prelude: fc.boolean(),
  frames: fc.array(fc.tuple(validFrame, mutation), { minLength: 1, maxLength: 4 }),
  noise: fc.option(fc.uint8Array({ minLength: 1, maxLength: 300 })),
  splits: fc.array(fc.nat(), { maxLength: 4 }),
});

/** Sends bytes in pieces, half-closes, and waits until the server closes (or 3 s). */
function runConnection(port: number, bytes: Buffer, splits: number[]): Promise<void> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => s.destroy(), 3000);
    s.on('error', () => {});
    s.on('data', () => {});
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('connect', () => {
      const cuts = [...new Set(splits.map((n) => n % (bytes.length + 1)))].sort((a, b) => a - b);
      let at = 0;
      for (const cut of [...cuts, bytes.length]) {
        if (cut > at) s.write(bytes.subarray(at, cut));
        at = Math.max(at, cut);
      }
      s.end();
    });
  });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

describe('fuzzing the server process', () => {
  it(
    `survives ${RUNS} connections of random and mutated frames`,
    async () => {
      const cases = fc.sample(connectionCase, RUNS);
      for (let i = 0; i < cases.length; i += PARALLEL) {
        await Promise.all(
          cases.slice(i, i + PARALLEL).map((c) => {
            const parts: Buffer[] = [];
            if (c.prelude)
              parts.push(
                Buffer.from(
                  encodeRequest({ code: RequestCode.Reconnect, clientId: keeper.clientId, name: 'keeper' }),
                ),
              );
            for (const [frame, m] of c.frames) parts.push(mutate(frame, m));
            if (c.noise) parts.push(Buffer.from(c.noise));
            return runConnection(srv.port, Buffer.concat(parts), c.splits);
          }),
        );
      }
      // A declared 4 GiB payload: refused at the header, nothing allocated.
      const big = Buffer.from(
        encodeSendFilePrefix(
          {
            clientId: keeper.clientId,
            contentSize: 16,
            origSize: 0,
            packetNumber: 1,
            totalPackets: 1,
            fileName: 'x',
          },
          0,
        ),
      );
      big.writeUInt32LE(MAX_U32, 19);
      for (let i = 0; i < 50; i++) await runConnection(srv.port, big, []);
      const rss = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${srv.proc.pid}/status`, 'utf8'));
      expect(Number(rss?.[1]) / 1024).toBeLessThan(400);

      // The server is alive and well: a new client (from another host: the fuzzing one has
      // spent its registrations) registers and uploads.
      const c = await RawClient.connect(srv.port, '127.0.0.2');
      const fresh = await registerAndExchange(c, `after-fuzz-${Date.now()}`);
      const payload = randomBytes(100_000);
      await sendFile(c, fresh, { fileName: 'fresh.bin', data: payload });
      expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
      c.close();

      // The victim's verified file is untouched; the keeper's, if fuzzed 1030/1031 left it, too.
      const db = new Database(join(data, 'defensive.db'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      const rowOf = (id: Identity | undefined) =>
        db
          .prepare('SELECT PathName, Verified FROM files WHERE ID = ? AND FileName = ?')
          .get(id!.clientId, 'precious.bin') as { PathName: string; Verified: number } | undefined;
      const v = rowOf(victim);
      const k = rowOf(keeper);
      db.close();
      expect(v?.Verified).toBe(1);
      expect(readFileSync(join(data, 'files', v!.PathName)).equals(victimData)).toBe(true);
      if (k?.Verified) expect(readFileSync(join(data, 'files', k.PathName)).equals(kept)).toBe(true);
      // Nothing escaped the data folder layout.
      for (const p of walk(data)) {
        const rel = relative(data, p);
        expect(
          rel.startsWith(`files${sep}`) ||
            /^(defensive\.db|invite\.(key|pub)$)/.test(rel) ||
            rel.startsWith(`tmp${sep}`) ||
            SERVER_KEY_FILES.includes(rel) ||
            LOCK_FILES.includes(rel),
          rel,
        ).toBe(true);
        if (rel.startsWith(`files${sep}`)) expect(rel.split(sep)).toHaveLength(3);
      }
    },
    60_000 + RUNS * 20,
  );
});
