/**
 * Protocol v4 resume in the page: the bridge stops in the middle of a file and starts again;
 * the page reconnects and carries on from the server's next record by itself (not from 0),
 * and the stored file is byte-identical. The proxy between bridge and server slows the file
 * down so the bridge reliably stops mid-file.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chooseFiles, expect, expectConnected, makeFile, test, uploadItem } from './fixtures';
import { expectStoredV4, newSender } from './support/v4-sender';

const MiB = 1024 * 1024;

/** Bytes the server holds of unfinished v4 uploads (data/partial/*.data). */
function partialBytes(dataDir: string): number {
  const dir = join(dataDir, 'partial');
  let total = 0;
  try {
    for (const f of readdirSync(dir)) if (f.endsWith('.data')) total += statSync(join(dir, f)).size;
  } catch {
    return 0;
  }
  return total;
}

test('v4: the bridge stops mid-file; once it is back the upload resumes from the server’s next record', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = await newSender(page, system, 'rhea');
  const f = makeFile(testInfo, 'v4-resume.bin', 20 * MiB + 999);
  system.proxy.bytesPerSecond = 2 * MiB;
  system.proxy.slow = true;
  try {
    await chooseFiles(page, [f.path]);
    // Past the first durable point (16 records, 4 MiB) before the bridge goes.
    await expect
      .poll(() => partialBytes(system.dataDir), { timeout: 60_000, intervals: [50] })
      .toBeGreaterThan(6 * MiB);
    await system.stopBridge();
  } finally {
    system.proxy.slow = false;
  }
  const row = uploadItem(page, 'v4-resume.bin');
  await expect(row).not.toHaveAttribute('data-phase', 'verified');
  await shot('01-bridge-stopped');
  await system.startBridge();
  await expectConnected(page, name, 40_000);
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 90_000 });
  // Resumed, not restarted: the page says from which record, and so does the server's log.
  const from = Number(await row.getAttribute('data-resumed-from'));
  expect(from).toBeGreaterThan(0);
  const starts = system
    .serverLines()
    .filter((l) => l.event === 'v4-upload-start' && l.file === 'v4-resume.bin');
  expect(starts.map((l) => l.next)).toEqual([0, from]);
  await row.getByText('Details').click();
  await expect(row).toContainText(`Resumed after an interruption from piece ${from}`);
  await expect(row.getByTestId('upload-sha256')).toHaveText(f.sha256);
  await shot('02-resumed');

  await expectStoredV4(system, name, 'v4-resume.bin', f.sha256);
  // Nothing of it is left unfinished on the server, and the page forgot what it kept for the resume.
  expect(partialBytes(system.dataDir)).toBe(0);
  const kept = await page.evaluate(
    () =>
      new Promise<number>((resolve, reject) => {
        const open = indexedDB.open('sftransfer');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('keyval').objectStore('keyval').get('v4uploads');
          get.onsuccess = () => resolve(((get.result as unknown[]) ?? []).length);
          get.onerror = () => reject(get.error);
        };
      }),
  );
  expect(kept).toBe(0);
});

test('v4: a reload mid-file, then the same file chosen again, resumes instead of starting over', async ({
  page,
  system,
}, testInfo) => {
  const name = await newSender(page, system, 'remi');
  const f = makeFile(testInfo, 'v4-reload.bin', 30 * MiB + 4321);
  const before = partialBytes(system.dataDir);
  system.proxy.bytesPerSecond = 2 * MiB;
  system.proxy.slow = true;
  try {
    await chooseFiles(page, [f.path]);
    await expect
      .poll(() => partialBytes(system.dataDir) - before, { timeout: 60_000, intervals: [50] })
      .toBeGreaterThan(6 * MiB);
    await page.reload();
    // The bridge lets the server read what it had relayed (its TCP linger, up to 5 s): still
    // slowed, the old connection ends with the rest of the file not yet through it. (Unslowed,
    // what sat in the socket buffers could finish the file, and there is nothing to resume.)
    const oldOneEnded = () =>
      system.serverLines().some((l) => l.event === 'v4-upload-kept' && l.file === 'v4-reload.bin');
    await expect.poll(oldOneEnded, { timeout: 20_000 }).toBe(true);
  } finally {
    system.proxy.slow = false;
  }
  await expectConnected(page, name, 40_000);
  // The same file (name, size, lastModified): the page finds what it kept and resumes.
  await chooseFiles(page, [f.path]);
  const row = uploadItem(page, 'v4-reload.bin');
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 90_000 });
  expect(Number(await row.getAttribute('data-resumed-from'))).toBeGreaterThan(0);
  await expectStoredV4(system, name, 'v4-reload.bin', f.sha256);
});
