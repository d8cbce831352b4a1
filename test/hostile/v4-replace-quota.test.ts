/**
 * Unfinished uploads that replace a stored file: only one at a time counts as a replacement.
 *
 * Found by a review: a replacement counts only its growth over the file it replaces (that
 * file goes once it is stored), and a limit was checked only when a start added something.
 * So every upload of a stored file's name and size counted nothing, whatever the sender had
 * kept already: with --client-max-bytes 4M and one 4 MiB file stored, 8 such uploads cut
 * before their last record were all accepted and kept (30.0 MiB in partial/, 8.5x the
 * sender's quota), and another sender's 1 MiB upload was refused by the server's total. With
 * --max-partial-uploads 32, 32 copies per identity, for --partial-ttl (24 h). Now one
 * unfinished upload of a name gets the old file's size as credit; every other one is on disk
 * beside it and counts whole.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FrameType, MessageType, RECORD_SIZE } from '../../lib/protocol/v4/constants';
import { encodeFrameHeader } from '../../lib/protocol/v4/frames';
import { StreamSealer } from '../../lib/v4/stream';
import { PARTIAL_FOLDER } from '../../server/v4/partial-uploads';
import { MiB, NO_PEER_LIMITS, type ServerProcess, startServerProcess } from '../support/hostile';
import { rawV4 } from '../support/raw-v4';
import { connectV4, newIdentity, refusedCode, zeroSource } from '../support/v4-client';

const QUOTA = 4 * MiB;
const COPIES = 8;

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([
    ...NO_PEER_LIMITS,
    ...['--client-max-bytes', String(QUOTA), '--max-total-bytes', String(3 * QUOTA)],
  ]);
});

afterAll(async () => {
  await srv?.dispose();
});

it('a second unfinished replacement of a stored file counts whole against --client-max-bytes', async () => {
  const me = await newIdentity();
  // The sender fills its quota with one file.
  const s = await connectV4(srv.port, me);
  await s.upload(zeroSource('big.bin', QUOTA), {});
  await s.close();

  // Then starts COPIES uploads of the same name and size, sends all but the last record of
  // each and cuts the connection: the first is kept (durable) for a resume; the others would
  // be beside it and the stored file, past the quota.
  const answers: number[] = [];
  let first: { uploadId: Uint8Array; fileKey: Uint8Array } | null = null;
  for (let i = 0; i < COPIES; i++) {
    const c = await rawV4(srv.port, me);
    const uploadId = new Uint8Array(randomBytes(16));
    const fileKey = new Uint8Array(randomBytes(32));
    await c.write(
      await c.session.seal({
        type: MessageType.UploadStart,
        uploadId,
        resume: false,
        fileKey,
        size: QUOTA,
        recordSize: RECORD_SIZE,
        name: 'big.bin',
      }),
    );
    const ready = await c.next();
    answers.push(ready?.type === MessageType.Error ? -ready.code : (ready?.type ?? 0));
    if (ready?.type !== MessageType.UploadReady) {
      c.socket.destroy();
      continue;
    }
    first ??= { uploadId, fileKey };
    const sealer = new StreamSealer({ fileKey, binding: c.session.binding, uploadId, size: QUOTA });
    const records = QUOTA / RECORD_SIZE;
    for (let r = 0; r < records - 1; r++) {
      const body = await sealer.seal(r, new Uint8Array(RECORD_SIZE));
      await c.write(Buffer.concat([encodeFrameHeader(FrameType.Chunk, body.length), body]));
    }
    await c.write(await c.session.seal({ type: MessageType.Bye }));
    await new Promise((r) => setTimeout(r, 300));
    c.socket.destroy();
  }
  await new Promise((r) => setTimeout(r, 1000));
  const dir = join(srv.data, PARTIAL_FOLDER);
  const data = readdirSync(dir).filter((n) => n.endsWith('.data'));
  const kept = data.reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  const files = readdirSync(join(srv.data, 'files'), { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .reduce((n, d) => n + statSync(join(d.parentPath, d.name)).size, 0);
  console.log(
    `--client-max-bytes ${QUOTA / MiB} MiB, --max-total-bytes ${(3 * QUOTA) / MiB} MiB: stored ${files / MiB} MiB, ` +
      `plus ${data.length} kept uploads holding ${(kept / MiB).toFixed(2)} MiB in partial/ (${((files + kept) / QUOTA).toFixed(1)}x the sender's quota)`,
  );
  // Another sender, within its own quota and the server's room (8 MiB total, 4 MiB stored):
  const other = await connectV4(srv.port, await newIdentity());
  const code = await refusedCode(other.upload(zeroSource('innocent.bin', MiB), {}));
  await other.close().catch(() => {});
  console.log(
    `answers to the ${COPIES} starts: ${answers.map((a) => (a < 0 ? `Error ${-a}` : a === MessageType.UploadReady ? 'ready' : a)).join(', ')}; ` +
      `another sender's 1 MiB upload: ${code === undefined ? 'stored' : `refused with Error ${code}`}`,
  );
  // The first replacement is accepted (it replaces the file once stored); every later one is
  // over quota (Error 6), so at most one copy beside the stored file.
  expect(answers[0]).toBe(MessageType.UploadReady);
  expect(answers.slice(1)).toEqual(Array(COPIES - 1).fill(-6));
  expect(data.length).toBe(1);
  expect(files + kept).toBeLessThan(2 * QUOTA);
  expect(code, "another sender's upload").toBeUndefined();
  // The kept replacement still resumes and replaces the file: the sender at its quota can
  // update its own file.
  const again = await connectV4(srv.port, me);
  const done = await again.upload(zeroSource('big.bin', QUOTA), { ...first!, resume: true });
  await again.close();
  expect(done.resumedFrom).toBe(QUOTA / RECORD_SIZE - 1);
  expect(readdirSync(dir).filter((n) => n.endsWith('.data'))).toEqual([]);
}, 60_000);
