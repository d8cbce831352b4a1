/**
 * Protocol v4 resume with the connection cut at random points: each attempt goes through a
 * proxy that cuts after a random number of client bytes (inside the handshake, UploadStart, a
 * record's header or its body), the next attempt resumes, and the last one goes direct. The
 * stored file is byte-identical, the server's resume point never goes back, nothing is stored
 * before the end and no partial upload is left. The seed is printed (SFT_TEST_SEED replays it).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { KeyPairWithRaw } from '../../lib/v4/keys';
import { isTombstone } from '../../server/v4/partial-uploads';
import { fileRows, type ServerProcess, serverLog, sha256, startServerProcess } from '../support/hostile';
import { tempDir } from '../support/server-helpers';
import { connectV4, fileSource, newIdentity, nodeSha256 } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

const MiB = 1024 * 1024;
const SIZE = 9 * MiB + 4321;
const CUTS = 6;
const SEED = Number(process.env.SFT_TEST_SEED ?? Date.now() % 2 ** 31);

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

let srv: ServerProcess;
let work: { path: string; remove(): void };
let me: KeyPairWithRaw;

beforeAll(async () => {
  work = tempDir('sft-v4-cuts-');
  srv = await startServerProcess([]);
  me = await newIdentity();
});

afterAll(async () => {
  await srv?.dispose();
  work?.remove();
});

it(`resumes after ${CUTS} cuts at random points (seed ${SEED}): byte-identical, the resume point never goes back`, async () => {
  console.log(`resume-random-cuts seed ${SEED} (SFT_TEST_SEED=${SEED} replays it)`);
  const next = random(SEED);
  const bytes = randomBytes(SIZE);
  const path = join(work.path, 'cuts.bin');
  writeFileSync(path, bytes);
  const ids = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
  const proxy = await startV4Proxy({ targetPort: srv.port, cutAfter: 0 });
  /** The record each attempt that reached UploadReady was told to start from. */
  const points: number[] = [];
  const onStarted = ({ next: from }: { next: number }) => {
    points.push(from);
  };
  let attempt = 0;
  const stored = () => fileRows(srv.data).filter((r) => r.FileName === 'cuts.bin');
  try {
    for (; attempt < CUTS; attempt++) {
      // From the preamble's first bytes to about 3 MiB into this connection's records.
      proxy.opts.cutAfter = Math.floor(next() ** 2 * 3 * MiB);
      let s: Awaited<ReturnType<typeof connectV4>>;
      try {
        s = await connectV4(proxy.port, me);
      } catch {
        continue; // cut inside the handshake: nothing of the upload reached the server
      }
      try {
        await s.upload(fileSource(path), { hash: nodeSha256, ...ids, resume: attempt > 0, onStarted });
        break; // the cut fell past the file's end: done early
      } catch (e) {
        // A cut before the first UploadStart reached the server leaves nothing to resume:
        // 11 (unknown upload) then; the next attempt starts it anew.
        const code = (e as { details?: { wireCode?: number } }).details?.wireCode;
        if (code === 11) ids.uploadId = new Uint8Array(randomBytes(16));
        else expect(e).toMatchObject({ code: 'CLIENT_ERR_CONNECTION_CLOSED' });
      } finally {
        await s.close().catch(() => {});
      }
      expect(stored()).toEqual([]);
    }
    if (stored().length === 0) {
      // The last try goes direct. (The server may still be noticing the cut: the resume takes it over.)
      const s = await connectV4(srv.port, me);
      try {
        await s.upload(fileSource(path), { hash: nodeSha256, ...ids, resume: true, onStarted });
      } catch (e) {
        // Every cut fell before any UploadStart reached the server: nothing to resume.
        expect(e).toMatchObject({ details: { wireCode: 11 } });
        await s.upload(fileSource(path), { hash: nodeSha256, ...ids, resume: false, onStarted });
      }
      await s.close();
    }
  } finally {
    await proxy.close();
  }
  console.log(`resume points ${points.join(', ')} after ${attempt} cut attempts`);
  for (let i = 1; i < points.length; i++) expect(points[i]).toBeGreaterThanOrEqual(points[i - 1]!);
  // And against the server's own account: a resume starts no earlier than where the cut
  // connection stopped (once 9 -> 5, when a resume did not wait for that connection's detach).
  let stoppedAt = 0;
  for (const line of serverLog(srv).filter((l) => l.file === 'cuts.bin')) {
    if (line.event === 'v4-upload-start') expect(line.next as number).toBeGreaterThanOrEqual(stoppedAt);
    if (line.event === 'v4-upload-kept') stoppedAt = line.next as number;
  }
  const rows = stored();
  expect(rows).toHaveLength(1);
  expect(sha256(readFileSync(join(srv.data, 'files', rows[0]!.PathName)))).toBe(sha256(bytes));
  expect(readdirSync(join(srv.data, 'partial')).filter((n) => !isTombstone(n))).toEqual([]);
});
