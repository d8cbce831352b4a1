import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  registerAndDismissOffer,
  senderOf,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('cancel mid-upload: the file stops, the server keeps nothing, and the next file goes through', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('grace');
  await page.goto(system.webUrl);
  await registerAndDismissOffer(page, name);
  const client = senderOf(system, name);

  // Large enough that records are still to be sent when Cancel is pressed: the socket buffers
  // between the page and the slowed proxy hold several MiB (under v4 a file whose last record
  // has left the browser is stored: there is nothing left to cancel).
  const big = makeFile(testInfo, 'big-cancelled.bin', 64 * 1024 * 1024);
  const small = makeFile(testInfo, 'after-cancel.bin', 100 * 1024);
  system.proxy.bytesPerSecond = 1024 * 1024;
  system.proxy.slow = true;
  try {
    await chooseFiles(page, [big.path]);
    const item = uploadItem(page, 'big-cancelled.bin');
    await expect(item).toHaveAttribute('data-phase', 'sending');
    // Wait until bytes are really on their way.
    await expect(item).not.toContainText('0 B of 64.0 MiB');
    await shot('01-uploading-slowly');
    await item.getByRole('button', { name: /Cancel/ }).click();
    await expect(item).toHaveAttribute('data-phase', 'cancelled');
    await shot('02-cancelled');
  } finally {
    system.proxy.slow = false;
  }

  // The page reconnects on its own, and a new file goes through on the new connection.
  await expectConnected(page, name);
  await chooseFiles(page, [small.path]);
  await expect(uploadItem(page, 'after-cancel.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  await expect(uploadItem(page, 'big-cancelled.bin')).toHaveAttribute('data-phase', 'cancelled');

  // The server: the cancelled file has no row and no stored bytes; its temp file is gone.
  expect(system.server.file(client!.ID, 'big-cancelled.bin')).toBeUndefined();
  expect(system.server.filesOnDisk(client!.ID.toString('hex'))).toEqual(['after-cancel.bin']);
  await expect.poll(() => readdirSync(join(system.dataDir, 'tmp')).length, { timeout: 15_000 }).toBe(0);
  // Protocol v4: the page sent UploadAbort, so no unfinished upload is kept either.
  const partial = join(system.dataDir, 'partial');
  await expect
    .poll(() => (existsSync(partial) ? readdirSync(partial).filter((f) => f.endsWith('.data')).length : 0), {
      timeout: 60_000,
    })
    .toBe(0);
  await expect(page.getByTestId('history').locator('li[data-outcome="cancelled"]')).toHaveCount(1);
});
