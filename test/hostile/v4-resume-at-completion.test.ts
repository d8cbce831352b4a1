/**
 * A resume of an upload whose last record is in, on another connection of the sender, while
 * the server stores the file (sent 0 to 7 ms after the last record went out, 40 times). The
 * resume found no holder any more and the state file still there: it reopened the data file
 * on its way into files/, cut it back to the durable count and took the records again, and
 * about a quarter of them ended in Error 14 (the file the resume wrote was gone under it)
 * for a file that was stored. Now it waits for the store and is answered UploadDone (or
 * Error 11 had storing failed). Whatever the timing, every stored file is the file sent.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { V4Source } from '../../lib/client/v4-session';
import {
  fileRows,
  hex,
  MiB,
  NO_PEER_LIMITS,
  type ServerProcess,
  sha256,
  startServerProcess,
} from '../support/hostile';
import { connectV4, newIdentity, nodeSha256 } from '../support/v4-client';

const ROUNDS = 40;
let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess(NO_PEER_LIMITS);
});
afterAll(async () => {
  await srv?.dispose();
});

it(`a resume sent as the last record goes out, ${ROUNDS} times: the stored file is always the one sent`, async () => {
  const me = await newIdentity();
  const [a, b] = [await connectV4(srv.port, me), await connectV4(srv.port, me)];
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const bytes = randomBytes(2 * MiB + i * 4096);
    const name = `f${i}.bin`;
    const source: V4Source = {
      name,
      size: bytes.length,
      async *openAt(at: number) {
        for (let o = at; o < bytes.length; o += 256 * 1024) yield bytes.subarray(o, o + 256 * 1024);
      },
    };
    const uploadId = new Uint8Array(randomBytes(16));
    const fileKey = new Uint8Array(randomBytes(32));
    let resumed: Promise<string> | null = null;
    const first = a
      .upload(source, {
        uploadId,
        fileKey,
        onProgress: (sent, total) => {
          if (sent < total || resumed) return;
          resumed = new Promise((r) => setTimeout(r, i % 8)).then(() =>
            b.upload(source, { uploadId, fileKey, resume: true, hash: nodeSha256 }).then(
              (r) => `resume: stored, from ${r.resumedFrom}`,
              (e: Error) => `resume: ${e.message.slice(0, 40)}`,
            ),
          );
        },
      })
      .then(
        () => 'first: stored',
        (e: Error) => `first: ${e.message.slice(0, 40)}`,
      );
    outcomes.push(await first, await (resumed ?? Promise.resolve('resume: not sent')));
    const row = fileRows(srv.data).find((r) => r.FileName === name && hex(r.ID).length > 0);
    expect(row, name).toBeDefined();
    const want = sha256(bytes);
    expect(row!.Sha256).toBe(want);
    expect(sha256(readFileSync(join(srv.data, 'files', row!.PathName))), name).toBe(want);
  }
  // Each resume is stored: taken over before the last record (the first gets Error 18), or
  // answered UploadDone for the file the first one stored.
  expect(outcomes.filter((o) => o.startsWith('resume:') && !o.startsWith('resume: stored'))).toEqual([]);
  await a.close();
  await b.close();
}, 60_000);
