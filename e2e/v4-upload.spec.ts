/**
 * The page speaks protocol v4 to our server (auto), and protocol 3 when the address says
 * `?protocol=3`: what is stored is byte-identical, and under v4 the row shows the server's
 * SHA-256 of it. Sizes stay at a few MiB: Playwright slows Chromium's WebSocket about 4x.
 */
import {
  chooseFiles,
  expect,
  makeFile,
  readV4Store,
  sha256File,
  test,
  uploadItem,
  v4StoredFile,
} from './fixtures';
import { expectStoredV4, newSender } from './support/v4-sender';

test('v4: the file is stored byte-identical and the row shows the SHA-256 the server reports', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = await newSender(page, system, 'vera');
  // Not a whole number of records: the last one is short.
  const f = makeFile(testInfo, 'v4-file.bin', 3 * 1024 * 1024 + 12_345);
  await chooseFiles(page, [f.path]);
  const row = uploadItem(page, 'v4-file.bin');
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 60_000 });
  await expect(row).toHaveAttribute('data-protocol', '4');
  await row.getByText('Details').click();
  await expect(row.getByTestId('upload-sha256')).toHaveText(f.sha256);
  await shot('01-v4-verified');

  const stored = await expectStoredV4(system, name, 'v4-file.bin', f.sha256);

  // The v4 key is a non-extractable Ed25519 CryptoKey; the server's key is pinned for the bridge.
  const v4 = await readV4Store(page);
  expect(v4.keyExtractable).toBe(false);
  expect(v4.algorithm).toBe('Ed25519');
  const address = new URL(system.bridgeUrl).host;
  expect(v4.pins[address]).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  expect(system.serverLines().some((l) => l.event === 'v4-upload-done')).toBe(true);

  // A reload reconnects with the same v4 key: no second v4 client, the next file lands beside the first.
  await page.reload();
  await expect(page.getByTestId('protocol-footer')).toHaveAttribute('data-protocol', '4', {
    timeout: 30_000,
  });
  const g = makeFile(testInfo, 'v4-after-reload.bin', 300 * 1024);
  await chooseFiles(page, [g.path]);
  await expect(uploadItem(page, 'v4-after-reload.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  const again = await expectStoredV4(system, name, 'v4-after-reload.bin', g.sha256);
  expect(again.ID.equals(stored.ID)).toBe(true);
});

test('?protocol=3: the page speaks version 3 as before', async ({ page, system }, testInfo) => {
  const name = await newSender(page, system, 'otto', '?protocol=3');
  const f = makeFile(testInfo, 'v3-file.bin', 2 * 1024 * 1024 + 7);
  await chooseFiles(page, [f.path]);
  const row = uploadItem(page, 'v3-file.bin');
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 60_000 });
  await expect(row).not.toHaveAttribute('data-protocol', '4');
  const [client] = system.server.clientsNamed(name);
  const stored = system.server.file(client!.ID, 'v3-file.bin');
  expect(stored?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(stored!))).toBe(f.sha256);
  // No v4 client was made for this name.
  expect(v4StoredFile(system, name, 'v3-file.bin')).toBeUndefined();
  expect((await readV4Store(page)).keyExtractable).toBeNull();
});
