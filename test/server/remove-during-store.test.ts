/**
 * `clients remove NAME --files` (another process) while the server is storing a same-name
 * replacement of that client's file: the store is slowed before its move into files/
 * (test/support/slow-commit.ts) so the removal runs inside it. Nothing of the client may be
 * left in files/ afterwards without a row.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { fileRows, walk } from '../support/hostile';
import { ROOT, runPartAsync } from '../support/processes';
import { realServers } from '../support/real-servers';
import type { SpawnedServer } from '../support/server-helpers';
import { connectV4, fileSource, nodeSha256 } from '../support/v4-client';

const real = realServers();
let dir: { path: string; remove(): void };
let running: SpawnedServer | null = null;

it('a replacement whose sender is removed with --files before its move leaves no file without a row', async () => {
  dir = real.folder('sft-remove-storing-');
  const data = join(dir.path, 'data');
  running = await real.spawn(['--port', '0', '--data', data], dir.path, {
    preload: join(ROOT, 'test/support/slow-commit.ts'),
    env: { SFT_TEST_COMMIT_DELAY_MS: '4000' },
  });
  const file = join(dir.path, 'report.bin');
  writeFileSync(file, randomBytes(300_000));
  const s = await connectV4(running.port, real.me(), () => {}, 'doomed');
  await s.upload(fileSource(file), { hash: nodeSha256 }); // stored (after 4 s)
  expect(fileRows(data)).toHaveLength(1);
  writeFileSync(file, randomBytes(200_000));
  // The replacement: its store waits 4 s before the move; the owner removes the sender meanwhile.
  const replacing = s.upload(fileSource(file), { hash: nodeSha256 }).then(
    () => 'stored',
    (e: Error) => e.message,
  );
  await new Promise((r) => setTimeout(r, 500));
  // JSON lines, one per client.
  const listed = await runPartAsync('server', ['clients', 'list', '--data', data]);
  const { name } = JSON.parse(listed.trim().split('\n')[0]!) as { name: string };
  await runPartAsync('server', ['clients', 'remove', name, '--files', '--data', data]);
  expect(await replacing).not.toBe('stored'); // its sender is gone
  await s.close().catch(() => {});
  expect(fileRows(data)).toEqual([]);
  expect(walk(join(data, 'files'))).toEqual([]);
  expect(readdirSync(join(data, 'files'))).toEqual([]); // nor its folder
}, 60_000);
