/**
 * A same-name replacement whose row cannot be written (the database write fails: a full disk,
 * an I/O error; injected by test/support/failing-row.ts) in the real server process: the
 * client is told the store failed, and the replaced file and its row stay as they were, so
 * `npm run server -- check` finds nothing wrong. It used to leave the new bytes in files/
 * under the old row's size and SHA-256 (Verified 0), which `check` reported.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fileRows, walk } from '../support/hostile';
import { ROOT, runPartAsync } from '../support/processes';
import { realServers } from '../support/real-servers';
import { connectV4, fileSource, nodeSha256 } from '../support/v4-client';

const real = realServers();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

it('a replacement whose row write fails: told it failed, the old file and row intact, check clean', async () => {
  const dir = real.folder('sft-replace-row-');
  const data = join(dir.path, 'data');
  const running = await real.spawn(['--port', '0', '--data', data], dir.path, {
    preload: join(ROOT, 'test/support/failing-row.ts'),
    env: { SFT_TEST_FAIL_ROW_AT: '2' },
  });
  const file = join(dir.path, 'report.bin');
  const first = randomBytes(300_000);
  writeFileSync(file, first);
  const s = await connectV4(running.port, real.me(), () => {}, 'dana');
  await s.upload(fileSource(file), { hash: nodeSha256 });
  const [before] = fileRows(data);
  expect(before).toMatchObject({ Size: 300_000, Verified: 1 });
  writeFileSync(file, randomBytes(200_000));
  const replaced = await s.upload(fileSource(file), { hash: nodeSha256 }).then(
    () => 'stored',
    (e: Error) => e.message,
  );
  expect(replaced).not.toBe('stored');
  await s.close().catch(() => {});
  expect(fileRows(data)).toEqual([before]);
  const stored = walk(join(data, 'files'));
  expect(stored).toHaveLength(1);
  expect(sha(readFileSync(stored[0]!))).toBe(before!.Sha256);
  // Exit status 0 and no finding (it rejects on exit 1).
  const out = await runPartAsync('server', ['check', '--data', data, '--json']);
  expect(JSON.parse(out.trim().split('\n').at(-1)!)).toMatchObject({ files: 1, problems: 0 });
}, 60_000);
