/**
 * Protocol v4 pinning in the page: the server's key is pinned on first use; after the server
 * gets a new key (server.key and server.pub replaced, server restarted) the page sends
 * nothing and warns, naming both fingerprints; only the person removes the old pin.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  readV4Store,
  registerAndDismissOffer,
  status,
  test,
  uniqueName,
  uploadItem,
  v4StoredFile,
} from './fixtures';

test('v4: a changed server key stops everything with a warning naming both keys; forgetting the old one is the person’s choice', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('pia');
  await page.goto(system.webUrl);
  await registerAndDismissOffer(page, name);
  const address = new URL(system.bridgeUrl).host;
  const old = (await readV4Store(page)).pins[address];
  expect(old).toMatch(/^SHA256:/);

  // A reinstalled server (or someone in between): a new key pair in the data folder.
  await system.restartServer(() => {
    for (const f of ['server.key', 'server.pub']) rmSync(join(system.dataDir, f));
  });
  const authenticatedBefore = system.serverLines().filter((l) => l.event === 'v4-authenticated').length;

  await expect(status(page)).toHaveAttribute('data-state', 'server-key-changed', { timeout: 40_000 });
  await expect(status(page)).toContainText('Warning: the server’s key has changed');
  await expect(status(page)).toContainText(old!);
  const offered = /identified itself with the key (SHA256:[A-Za-z0-9+/]{43})/.exec(
    (await status(page).textContent()) ?? '',
  )?.[1];
  expect(offered).toBeDefined();
  expect(offered).not.toBe(old);
  await expect(status(page)).toContainText('may be intercepting');
  await expect(status(page)).toContainText('reinstalled');
  await shot('01-key-changed');

  // Nothing is sent: a file chosen now waits, the server saw no client authenticate.
  const f = makeFile(testInfo, 'after-key-change.bin', 256 * 1024);
  await chooseFiles(page, [f.path]);
  const row = uploadItem(page, 'after-key-change.bin');
  await page.waitForTimeout(1500);
  await expect(row).toHaveAttribute('data-phase', 'queued');
  expect(system.serverLines().filter((l) => l.event === 'v4-authenticated').length).toBe(authenticatedBefore);
  expect((await readV4Store(page)).pins[address]).toBe(old);

  // Declining the confirmation keeps the pin.
  page.once('dialog', (d) => void d.dismiss());
  await page.getByRole('button', { name: 'Forget the old key…' }).click();
  await expect(status(page)).toHaveAttribute('data-state', 'server-key-changed');
  expect((await readV4Store(page)).pins[address]).toBe(old);

  // Accepting it: the new key is pinned and the file goes.
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('button', { name: 'Forget the old key…' }).click();
  await expectConnected(page, name, 30_000);
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 30_000 });
  expect((await readV4Store(page)).pins[address]).toBe(offered);
  expect(v4StoredFile(system, name, 'after-key-change.bin')?.Verified).toBe(1);
  await shot('02-new-key-pinned');
});
