/**
 * The `.done` files a stored v4 upload leaves in data/partial/ (so that a resume after a lost
 * UploadDone is answered at once) are one per owner and stored name: a sender who sends the
 * same name again and again (each upload replacing the one stored file) leaves one, not one
 * per upload. Before, 300 one-byte uploads of one name left 300 for --partial-ttl (24 h);
 * nothing counted them (found by a security review).
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { PARTIAL_FOLDER } from '../../server/v4/partial-uploads';
import { fileRows, NO_PEER_LIMITS, type ServerProcess, startServerProcess } from '../support/hostile';
import { connectV4, newIdentity, nodeSha256 } from '../support/v4-client';

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([
    ...NO_PEER_LIMITS,
    '--client-max-files',
    '1',
    '--client-max-bytes',
    '1024',
  ]);
});

afterAll(async () => {
  await srv?.dispose();
});

const UPLOADS = 300;

const oneByte = (i: number) => ({
  name: 'same.txt',
  size: 1,
  async *openAt() {
    yield new Uint8Array([i & 0xff]);
  },
});

it(`${UPLOADS} stored uploads of one name by a client allowed 1 file leave 1 file in partial/ (its .done), which still answers the last one's resume`, async () => {
  const dir = join(srv.data, PARTIAL_FOLDER);
  const before = readdirSync(dir);
  expect(before).toEqual([]);
  const me = await newIdentity();
  const s = await connectV4(srv.port, me);
  const first = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
  const last = { uploadId: new Uint8Array(randomBytes(16)), fileKey: new Uint8Array(randomBytes(32)) };
  const t0 = performance.now();
  for (let i = 0; i < UPLOADS; i++) {
    const ids = i === 0 ? first : i === UPLOADS - 1 ? last : {};
    await s.upload(oneByte(i), { hash: nodeSha256, ...ids });
  }
  const ms = performance.now() - t0;
  const after = readdirSync(dir);
  const bytes = after.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  console.log(
    `${UPLOADS} one-byte uploads of "same.txt" in ${Math.round(ms)} ms on one connection: partial/ held ` +
      `${before.length} files before, ${after.length} after (${after.filter((n) => n.endsWith('.done')).length} .done, ${bytes} bytes)`,
  );
  // One stored file (client-max-files 1), so one .done answers for it, and nothing else is left.
  expect(fileRows(srv.data).filter((r) => r.FileName === 'same.txt')).toHaveLength(1);
  expect(after).toHaveLength(1);
  expect(after[0]).toMatch(/^[0-9a-f]{64}\.done$/);
  // The one left is the last upload's: its resume (UploadDone lost) is answered at once...
  let sent = 0;
  const again = await s.upload(oneByte(UPLOADS - 1), {
    hash: nodeSha256,
    ...last,
    resume: true,
    onStarted: () => {
      sent++;
    },
  });
  expect(again).toMatchObject({ size: 1, hashChecked: true });
  expect(sent).toBe(0);
  // ...and the first one's, whose file was replaced long ago, is unknown (Error 11).
  await expect(s.upload(oneByte(0), { hash: nodeSha256, ...first, resume: true })).rejects.toMatchObject({
    details: { wireCode: 11 },
  });
  await s.close();
  expect(readdirSync(dir)).toHaveLength(1);
}, 60_000);
