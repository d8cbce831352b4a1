/**
 * kill -9 of the server in the two windows of storing a finished upload (test/support/kill-at.ts
 * stops the process there): after its move into files/ and before its row, and before the
 * move. Started again, the server finishes or undoes what was cut (FileStore.recover): the
 * file is recorded where it lies (not left unrecorded on disk, with the next upload of the
 * name stored beside it as "name (1)"), a v4 resume is told the file is stored, and an upload
 * cut before its move resumes from its kept records. Every stored file byte-identical.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import { isTombstone } from '../../server/v4/partial-uploads';
import {
  expectCode,
  fileRows,
  MiB,
  reconnect,
  register,
  serverLog,
  sha256,
  tcpConn,
  upload,
  walk,
} from '../support/hostile';
import { ROOT } from '../support/processes';
import { realServers } from '../support/real-servers';
import type { SpawnedServer } from '../support/server-helpers';
import { connectV4, fileSource, nodeSha256 } from '../support/v4-client';

const KILL_AT = join(ROOT, 'test/support/kill-at.ts');

const real = realServers();
let dir: { path: string; remove(): void };
let data: string;
let running: SpawnedServer | null = null;

/** A fresh data folder and a server on it that kills itself at `at`. */
async function startDoomed(
  at: 'before-record' | 'before-move' | 'before-move-durable' | 'after-record',
): Promise<SpawnedServer> {
  dir = real.folder('sft-crash-');
  data = join(dir.path, 'data');
  running = await real.spawn(['--port', '0', '--data', data], dir.path, {
    preload: KILL_AT,
    env: { SFT_TEST_KILL_AT: at },
  });
  return running;
}

/** Waits for the doomed server's death, then starts an ordinary one on the same folder. */
async function restart(doomed: SpawnedServer): Promise<SpawnedServer> {
  expect(await doomed.exited).toBeNull(); // killed by a signal
  running = await real.spawn(['--port', '0', '--data', data], dir.path);
  return running;
}

const recovered = (srv: SpawnedServer) =>
  serverLog(srv)
    .filter((l) => l.event === 'store-recovered')
    .map((l) => [l.outcome, l.path]);
const storedFiles = () => walk(join(data, 'files')).map((p) => p.slice(join(data, 'files').length + 1));
const partials = () => readdirSync(join(data, 'partial')).filter((n) => !isTombstone(n));

describe('kill -9 while a finished upload is stored', () => {
  it('v3, after the move and before the row: the row is recorded at start, and the name keeps its path', async () => {
    const doomed = await startDoomed('before-record');
    const bytes = randomBytes(300_000);
    const c1 = await tcpConn(doomed.port);
    const me3 = await register(c1, 'crashy');
    // The server dies before it can answer 1603.
    expect(await upload(c1, me3, 'report.pdf', bytes)).toBeNull();
    const srv = await restart(doomed);
    const [row] = fileRows(data);
    expect(row).toMatchObject({
      FileName: 'report.pdf',
      Size: bytes.length,
      Cksum: cksum(bytes),
      Verified: 0,
    });
    expect(recovered(srv)).toEqual([['recorded', row!.PathName]]);
    expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(bytes));
    expect(readdirSync(join(data, 'tmp'))).toEqual([]);
    // The client sends it again (it never saw 1603): the same stored path, replaced.
    const again = randomBytes(200_000);
    const c2 = await tcpConn(srv.port);
    const back = await reconnect(c2, me3);
    expect(await upload(c2, back, 'report.pdf', again)).toMatchObject({ code: ResponseCode.FileReceived });
    await expectCode(
      c2,
      encodeRequest({ code: RequestCode.CrcOk, clientId: back.clientId, fileName: 'report.pdf' }),
      ResponseCode.Thanks,
    );
    c2.close();
    expect(storedFiles()).toEqual([row!.PathName]);
    expect(fileRows(data)).toMatchObject([{ PathName: row!.PathName, Size: again.length, Verified: 1 }]);
    expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(again));
  });

  // Killed after the move and before the row, or after the row and before the state file
  // went (then it was resumed from record 0 and the whole file sent again, and the state
  // file stayed until the TTL): either way the resume is told the file is stored.
  for (const [at, when] of [
    ['before-record', 'after the move and before the row'],
    ['after-record', 'after the row and before the state file goes'],
  ] as const)
    it(`v4, ${when}: the resume is told the file is stored, with its SHA-256, nothing is left in partial/`, async () => {
      const doomed = await startDoomed(at);
      const file = join(dir.path, `${at}.bin`);
      const bytes = randomBytes(9 * MiB + 17);
      writeFileSync(file, bytes);
      const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
      const s1 = await connectV4(doomed.port, real.me());
      await expect(s1.upload(fileSource(file), { hash: nodeSha256, ...ids })).rejects.toMatchObject({
        code: expect.stringMatching(/CLIENT_ERR_CONNECTION_CLOSED|CLIENT_ERR_UNREACHABLE/),
      });
      const srv = await restart(doomed);
      const [row] = fileRows(data);
      expect(row).toMatchObject({
        FileName: `${at}.bin`,
        Size: bytes.length,
        Sha256: sha256(bytes),
        Verified: 1,
      });
      expect(recovered(srv)).toEqual([['recorded', row!.PathName]]);
      expect(partials()).toEqual([]); // the state file went; its .done tombstone stays
      const s2 = await connectV4(srv.port, real.me());
      let sent = 0;
      const r = await s2.upload(fileSource(file), {
        hash: nodeSha256,
        ...ids,
        resume: true,
        onProgress: (n) => {
          sent = n;
        },
      });
      await s2.close();
      expect(Buffer.from(r.sha256).toString('hex')).toBe(sha256(bytes));
      expect(r.storedName).toBe(`${at}.bin`);
      expect(r.resumedFrom).toBe(Math.ceil(bytes.length / (256 * 1024))); // nothing sent again
      expect(sent).toBe(bytes.length);
      expect(storedFiles()).toEqual([row!.PathName]);
      expect(fileRows(data)).toMatchObject([{ Token: row!.Token }]); // not stored a second time
      expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(bytes));
    });

  it('v4, before the move: nothing is recorded, and the resume goes on from the kept records', async () => {
    const doomed = await startDoomed('before-move');
    const file = join(dir.path, 'cut.bin');
    const bytes = randomBytes(9 * MiB + 3);
    writeFileSync(file, bytes);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s1 = await connectV4(doomed.port, real.me());
    await expect(s1.upload(fileSource(file), { hash: nodeSha256, ...ids })).rejects.toBeTruthy();
    const srv = await restart(doomed);
    expect(fileRows(data)).toEqual([]);
    expect(storedFiles()).toEqual([]);
    expect(recovered(srv)).toEqual([['not-moved', expect.stringMatching(/\/cut\.bin$/)]]);
    const s2 = await connectV4(srv.port, real.me());
    const r = await s2.upload(fileSource(file), { hash: nodeSha256, ...ids, resume: true });
    await s2.close();
    expect(r.resumedFrom).toBeGreaterThan(0);
    expect(Buffer.from(r.sha256).toString('hex')).toBe(sha256(bytes));
    const [row] = fileRows(data);
    expect(row).toMatchObject({ FileName: 'cut.bin', Verified: 1, Sha256: sha256(bytes) });
    expect(storedFiles()).toEqual([row!.PathName]);
    expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(bytes));
  });

  it('v4, before the move, a size of whole durable points (8 MiB): the resume sends the last record again, and the file is stored', async () => {
    // The last record was a durable point (every 16th): the count in the state file was
    // every record, and each resume was refused as a protocol violation ("Resume point out
    // of range.", fatal), for ever.
    const doomed = await startDoomed('before-move-durable');
    const file = join(dir.path, 'whole.img');
    const bytes = randomBytes(8 * MiB);
    writeFileSync(file, bytes);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s1 = await connectV4(doomed.port, real.me());
    await expect(s1.upload(fileSource(file), { hash: nodeSha256, ...ids })).rejects.toBeTruthy();
    const srv = await restart(doomed);
    expect(recovered(srv)).toEqual([['not-moved', expect.stringMatching(/\/whole\.img$/)]]);
    const s2 = await connectV4(srv.port, real.me());
    let sent = 0;
    const r = await s2.upload(fileSource(file), {
      hash: nodeSha256,
      ...ids,
      resume: true,
      onProgress: (n) => {
        sent = n;
      },
    });
    await s2.close();
    expect(r.resumedFrom).toBe(8 * 4 - 1); // only the last record again
    expect(sent).toBe(bytes.length);
    expect(Buffer.from(r.sha256).toString('hex')).toBe(sha256(bytes));
    const [row] = fileRows(data);
    expect(row).toMatchObject({
      FileName: 'whole.img',
      Verified: 1,
      Size: bytes.length,
      Sha256: sha256(bytes),
    });
    expect(storedFiles()).toEqual([row!.PathName]);
    expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(bytes));
    expect(partials()).toEqual([]);
  });

  it('v4 same-name replacement, before the move: the replaced file stays as it was, verified, and its late resume is still told it is stored', async () => {
    dir = real.folder('sft-crash-');
    data = join(dir.path, 'data');
    running = await real.spawn(['--port', '0', '--data', data], dir.path);
    const file = join(dir.path, 'keep.bin');
    const old = randomBytes(1 * MiB + 7);
    writeFileSync(file, old);
    const oldIds = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s0 = await connectV4(running.port, real.me());
    await s0.upload(fileSource(file), { hash: nodeSha256, ...oldIds });
    await s0.close();
    const [before] = fileRows(data);
    expect(before).toMatchObject({ Verified: 1, Sha256: sha256(old) });
    await running.stop('SIGKILL');
    running = await real.spawn(['--port', '0', '--data', data], dir.path, {
      preload: KILL_AT,
      env: { SFT_TEST_KILL_AT: 'before-move' },
    });
    const doomed = running;
    const replacement = join(dir.path, 'replacement', 'keep.bin');
    mkdirSync(dirname(replacement));
    writeFileSync(replacement, randomBytes(2 * MiB + 3));
    const s1 = await connectV4(doomed.port, real.me());
    await expect(
      s1.upload(fileSource(replacement), {
        hash: nodeSha256,
        uploadId: new Uint8Array(randomBytes(16)),
        fileKey: new Uint8Array(randomBytes(32)),
      }),
    ).rejects.toBeTruthy();
    const srv = await restart(doomed);
    expect(recovered(srv)).toEqual([['not-moved', before!.PathName]]);
    // Was: Verified 0 and the replacement's token, for good (the replacement never happened).
    expect(fileRows(data)).toEqual([before]);
    expect(sha256(readFileSync(join(data, 'files', before!.PathName)))).toBe(sha256(old));
    const s2 = await connectV4(srv.port, real.me());
    const r = await s2.upload(fileSource(file), { hash: nodeSha256, ...oldIds, resume: true });
    await s2.close();
    expect(Buffer.from(r.sha256).toString('hex')).toBe(sha256(old)); // UploadDone again, nothing sent
  });

  it('v4, killed again while the start records it (after its row, before its state file goes): the next start finishes it', async () => {
    const doomed = await startDoomed('before-record');
    const file = join(dir.path, 'twice.bin');
    const bytes = randomBytes(5 * MiB + 1);
    writeFileSync(file, bytes);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    const s1 = await connectV4(doomed.port, real.me());
    await expect(s1.upload(fileSource(file), { hash: nodeSha256, ...ids })).rejects.toBeTruthy();
    expect(await doomed.exited).toBeNull();
    // The next start dies as its recovery records the file (right after the row).
    running = null;
    const again = real.spawn(['--port', '0', '--data', data], dir.path, {
      preload: KILL_AT,
      env: { SFT_TEST_KILL_AT: 'after-record' },
    });
    await expect(again).rejects.toBeTruthy(); // never listening
    const srv = await real.spawn(['--port', '0', '--data', data], dir.path);
    running = srv;
    const [row] = fileRows(data);
    expect(row).toMatchObject({ FileName: 'twice.bin', Sha256: sha256(bytes), Verified: 1 });
    expect(recovered(srv)).toEqual([['recorded', row!.PathName]]);
    expect(partials()).toEqual([]);
    const s2 = await connectV4(srv.port, real.me());
    const r = await s2.upload(fileSource(file), { hash: nodeSha256, ...ids, resume: true });
    await s2.close();
    expect(r.resumedFrom).toBe(Math.ceil(bytes.length / (256 * 1024))); // told it is stored
    expect(fileRows(data)).toMatchObject([{ Token: row!.Token }]);
  });
});
