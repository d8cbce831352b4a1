/**
 * A resume must not be an amplifier. Opening a resume once read and hashed every byte the
 * server kept of the upload, so a client holding a large partial upload could resume it and
 * drop the connection again and again, each handshake costing the server a pass over the
 * kept bytes (up to 64 GiB). Here: 96 MiB kept, 20 resumes dropped after UploadReady, and the
 * server's CPU time (from /proc) over them stays far below what 20 passes would cost. Then the
 * upload completes byte-identical (its file hashed once in all: the progress of a read-back
 * hash is kept from one connection to the next).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyPairWithRaw } from '../../lib/v4/keys';
import {
  cpuSeconds,
  fileRows,
  MiB,
  type ServerProcess,
  sha256,
  startServerProcess,
} from '../support/hostile';
import { tempDir } from '../support/server-helpers';
import { connectV4, fileSource, newIdentity, nodeSha256 } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

const KEPT = 96 * MiB;
const RESUMES = 20;

let srv: ServerProcess;
let work: { path: string; remove(): void };
let me: KeyPairWithRaw;

beforeAll(async () => {
  work = tempDir('sft-resume-amp-');
  // Reconnects are rate-limited per source (30 a minute by default): this test is about the
  // cost of each one that is let in, so the limit is raised.
  srv = await startServerProcess(['--reconnect-per-minute', '1000']);
  me = await newIdentity();
});

afterAll(async () => {
  await srv?.dispose();
  work?.remove();
});

it(`${RESUMES} resumes of a ${KEPT / MiB} MiB partial upload, each dropped at once, cost the server no pass over the kept bytes`, async () => {
  const bytes = randomBytes(KEPT + 5 * MiB);
  const path = join(work.path, 'big.bin');
  writeFileSync(path, bytes);
  const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
  const proxy = await startV4Proxy({ targetPort: srv.port, cutAfter: KEPT });
  const cut = await connectV4(proxy.port, me);
  await expect(cut.upload(fileSource(path), { hash: nodeSha256, ...ids })).rejects.toMatchObject({
    code: 'CLIENT_ERR_CONNECTION_CLOSED',
  });
  await proxy.close();

  const drop = new Error('dropped after UploadReady');
  let from = 0;
  const before = cpuSeconds(srv.pid);
  for (let i = 0; i < RESUMES; i++) {
    const s = await connectV4(srv.port, me);
    const tried = s.upload(fileSource(path), {
      ...ids,
      resume: true,
      onStarted: ({ next }) => {
        from = next;
        throw drop;
      },
    });
    await expect(tried).rejects.toBe(drop);
    await s.close().catch(() => {});
  }
  const spent = cpuSeconds(srv.pid) - before;
  console.log(
    `server CPU for ${RESUMES} dropped resumes of ${KEPT / MiB} MiB kept (from record ${from}): ${spent.toFixed(2)} s`,
  );
  expect(from).toBeGreaterThan(0);
  // One pass (read + SHA-256) over 96 MiB is about 0.1 s of CPU here, 20 of them 2 s or more;
  // 20 handshakes without one cost a few hundredths each.
  expect(spent).toBeLessThan(1);

  const s = await connectV4(srv.port, me);
  const done = await s.upload(fileSource(path), { hash: nodeSha256, ...ids, resume: true });
  await s.close();
  expect(done.resumedFrom).toBe(from);
  const row = fileRows(srv.data).find((r) => r.FileName === 'big.bin')!;
  expect(sha256(readFileSync(join(srv.data, 'files', row.PathName)))).toBe(sha256(bytes));
});
