/**
 * kill -9 of the server at random moments of one v4 upload, again and again (bounded): each
 * time a new server starts on the same folder and the client resumes. At the end the file is
 * stored once, byte-identical, nothing is left in partial/ (but the `.done`) or tmp/, and the
 * server's usage counts exactly the stored file.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { isTombstone } from '../../server/v4/partial-uploads';
import { fileRows, MiB, sha256, walk } from '../support/hostile';
import { realServers } from '../support/real-servers';
import type { SpawnedServer } from '../support/server-helpers';
import { connectV4, fileSource, nodeSha256 } from '../support/v4-client';

const real = realServers();
let dir: { path: string; remove(): void };
let running: SpawnedServer | null = null;

for (const size of [64 * MiB, 64 * MiB + 4097])
  it(`an upload of ${size} bytes survives kill -9 of the server at random moments`, async () => {
    dir = real.folder('sft-kill-loop-');
    const data = join(dir.path, 'data');
    const file = join(dir.path, 'loop.bin');
    const bytes = randomBytes(size);
    writeFileSync(file, bytes);
    const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
    let result: Awaited<ReturnType<Awaited<ReturnType<typeof connectV4>>['upload']>> | null = null;
    const log: string[] = [];
    for (let round = 0; round < 12 && !result; round++) {
      // Room for this file and 1 MiB more: kept bytes counted twice would refuse the last check.
      running = await real.spawn(
        ['--port', '0', '--data', data, '--max-total-bytes', String(size + MiB)],
        dir.path,
      );
      const srv = running;
      const s = await connectV4(srv.port, real.me()).catch(() => null);
      if (!s) continue;
      const killAfter = round >= 8 ? 60_000 : randomInt(10, 400);
      const killer = setTimeout(() => void srv.stop('SIGKILL'), killAfter);
      try {
        result = await s.upload(fileSource(file), { hash: nodeSha256, ...ids, resume: round > 0 });
        log.push(`round ${round}: done, resumed from ${result.resumedFrom}`);
      } catch (e) {
        log.push(`round ${round}: killed after ${killAfter} ms (${(e as Error).message})`);
      } finally {
        clearTimeout(killer);
        await s.close().catch(() => {});
      }
      if (!result) {
        await srv.stop('SIGKILL');
        running = null;
      }
    }
    expect(result, log.join('\n')).not.toBeNull();
    expect(Buffer.from(result!.sha256).toString('hex')).toBe(sha256(bytes));
    const rows = fileRows(data);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ Size: size, Sha256: sha256(bytes), Verified: 1 });
    const stored = walk(join(data, 'files'));
    expect(stored).toHaveLength(1);
    expect(sha256(readFileSync(stored[0]!))).toBe(sha256(bytes));
    expect(readdirSync(join(data, 'partial')).filter((n) => !isTombstone(n))).toEqual([]);
    expect(readdirSync(join(data, 'tmp'))).toEqual([]);
    // The quota counts the stored file once, nothing kept beside it: 1 MiB more still fits.
    // On a new server: the last round's may have been killed just after its answer.
    const last = running!;
    if (last.proc.exitCode === null && last.proc.signalCode === null) await last.stop('SIGKILL');
    running = await real.spawn(
      ['--port', '0', '--data', data, '--max-total-bytes', String(size + MiB)],
      dir.path,
    );
    const extra = join(dir.path, 'extra.bin');
    writeFileSync(extra, randomBytes(MiB - 4096));
    const s = await connectV4(running.port, real.me());
    await expect(s.upload(fileSource(extra), { hash: nodeSha256 })).resolves.toMatchObject({
      storedName: 'extra.bin',
    });
    await s.close();
  }, 120_000);

it('a same-name replacement killed at random moments: after every start the row and its file agree (old or new), never lost', async () => {
  dir = real.folder('sft-kill-loop-');
  const data = join(dir.path, 'data');
  const file = join(dir.path, 'same.bin');
  const old = randomBytes(3 * MiB + 5);
  writeFileSync(file, old);
  running = await real.spawn(['--port', '0', '--data', data], dir.path);
  const s0 = await connectV4(running.port, real.me());
  await s0.upload(fileSource(file), { hash: nodeSha256 });
  await s0.close();
  await running.stop('SIGKILL');
  running = null;
  const next = randomBytes(40 * MiB + 3);
  writeFileSync(file, next);
  const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
  const shas = new Set([sha256(old), sha256(next)]);
  let done = false;
  const log: string[] = [];
  for (let round = 0; round < 12 && !done; round++) {
    running = await real.spawn(['--port', '0', '--data', data], dir.path);
    const srv = running;
    // After every start: one row, its file there, byte for byte what the row says.
    const rows = fileRows(data);
    expect(rows, log.join('\n')).toHaveLength(1);
    const stored = readFileSync(join(data, 'files', rows[0]!.PathName));
    expect(shas.has(sha256(stored)), log.join('\n')).toBe(true);
    expect(rows[0]).toMatchObject({ Sha256: sha256(stored), Size: stored.length });
    const s = await connectV4(srv.port, real.me()).catch(() => null);
    if (!s) continue;
    const killAfter = round >= 8 ? 60_000 : randomInt(10, 300);
    const killer = setTimeout(() => void srv.stop('SIGKILL'), killAfter);
    try {
      await s.upload(fileSource(file), { hash: nodeSha256, ...ids, resume: round > 0 });
      done = true;
      log.push(`round ${round}: done`);
    } catch (e) {
      log.push(`round ${round}: killed after ${killAfter} ms (${(e as Error).message})`);
    } finally {
      clearTimeout(killer);
      await s.close().catch(() => {});
    }
    if (!done) {
      await srv.stop('SIGKILL');
      running = null;
    }
  }
  expect(done, log.join('\n')).toBe(true);
  const rows = fileRows(data);
  expect(rows).toMatchObject([{ Sha256: sha256(next), Verified: 1 }]);
  expect(walk(join(data, 'files'))).toHaveLength(1);
  expect(sha256(readFileSync(join(data, 'files', rows[0]!.PathName)))).toBe(sha256(next));
}, 120_000);
