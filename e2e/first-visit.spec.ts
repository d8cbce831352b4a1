import { readFileSync } from 'node:fs';
import { parseMeInfo } from '../lib/crypto';
import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  readStoredIdentity,
  readV4Store,
  register,
  senderOf,
  sha256File,
  status,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('first visit: registers, offers me.info, uploads 0 B, 1 KiB and 20 MiB, all verified and identical on the server', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('alice');
  // Version 3's registration (RSA key, me.info); a v4 one is in invite-v4.spec.ts and below.
  await page.goto(`${system.webUrl}/?protocol=3`);
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  await shot('01-welcome');

  await register(page, name);
  await shot('02-registered-meinfo-offer');

  // The server has exactly this client, with a 160-byte public key.
  const [client, ...others] = system.server.clientsNamed(name);
  expect(others).toHaveLength(0);
  expect(client!.PublicKey).toHaveLength(160);
  const idHex = client!.ID.toString('hex');

  // The private key is in IndexedDB, non-extractable, with the server's client ID.
  const stored = await readStoredIdentity(page);
  expect(stored).toEqual({
    name,
    clientIdHex: idHex,
    extractable: false,
    type: 'private',
    algorithm: 'RSA-OAEP',
  });

  // me.info download: the same name and ID, and a key (parsed as the CLI would).
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download me.info' }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe('me.info');
  const meInfo = parseMeInfo(readFileSync(await download.path(), 'utf8'));
  expect(meInfo.name).toBe(name);
  expect(Buffer.from(meInfo.clientId).toString('hex')).toBe(idHex);
  expect(meInfo.privateKeyPkcs8.length).toBeGreaterThan(600);
  // The offer stays (to download again) until dismissed.
  await page.getByTestId('meinfo-offer').getByRole('button', { name: 'Done' }).click();
  await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);

  // An existing v3 identity keeps working as before on a page that speaks v4 (auto): v3's
  // reconnect, files by v4 under this browser's v4 key.
  await page.goto(system.webUrl);
  await expectConnected(page, name);

  const files = [
    { name: 'empty.bin', ...makeFile(testInfo, 'empty.bin', 0) },
    { name: 'one-kib.bin', ...makeFile(testInfo, 'one-kib.bin', 1024) },
    { name: 'twenty-mib.bin', ...makeFile(testInfo, 'twenty-mib.bin', 20 * 1024 * 1024) },
  ];
  await chooseFiles(
    page,
    files.map((f) => f.path),
  );
  // While the big one is on its way.
  await expect(uploadItem(page, 'twenty-mib.bin')).toHaveAttribute(
    'data-phase',
    /sending|verifying|verified/,
  );
  await shot('03-uploading');
  for (const f of files) {
    await expect(uploadItem(page, f.name)).toHaveAttribute('data-phase', 'verified', { timeout: 90_000 });
  }
  await expect(page.getByTestId('overall')).toContainText('3 of 3 files sent');
  await expect(page.getByTestId('history').locator('li')).toHaveCount(3);
  await shot('04-all-verified');

  // The server: one verified row per file, stored bytes identical to what was chosen (under
  // the v4 client when the page sent them by protocol v4).
  const sender = senderOf(system, name);
  for (const f of files) {
    const row = system.server.file(sender!.ID, f.name);
    expect(row, `files row for ${f.name}`).toBeDefined();
    expect(row!.Verified).toBe(1);
    expect(await sha256File(system.server.storedPath(row!))).toBe(f.sha256);
  }
  await expectConnected(page, name);

  await expect(page.getByTestId('identity-protocol')).toHaveText('protocol 3');
  await expect(page.getByTestId('identity-no-file')).toHaveCount(0);

  // The history is this browser's: still there after a reload.
  await page.reload();
  await expectConnected(page, name);
  await expect(page.getByTestId('history').locator('li[data-outcome="verified"]')).toHaveCount(3);
});

test('first visit by protocol 4: one registration (the v4 key, by ClientAuth), no me.info, no RSA key', async ({
  page,
  system,
}, testInfo) => {
  const name = uniqueName('amy');
  await page.goto(system.webUrl);
  expect(await register(page, name)).toBe(4);
  await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);
  // One client, the v4 one; no v3 row with an RSA key.
  expect(system.server.clientsNamed(name)).toEqual([]);
  const sender = senderOf(system, name);
  expect(sender?.Name).toMatch(new RegExp(`^${name} \\[v4 [A-Za-z0-9+/]{8}\\]$`));
  expect(await readStoredIdentity(page)).toEqual({
    name,
    clientIdHex: sender!.ID.toString('hex'),
    extractable: null,
    type: null,
    algorithm: null,
  });
  await expect(page.getByTestId('identity-protocol')).toHaveText('protocol 4');
  await expect(page.getByTestId('identity-v4-key')).toHaveText(/^SHA256:[A-Za-z0-9+/]{43}$/);
  await expect(page.getByTestId('identity-server-key')).toHaveText(/^SHA256:[A-Za-z0-9+/]{43}$/);
  await expect(page.getByTestId('identity-no-file')).toBeVisible();
  const f = makeFile(testInfo, 'v4-first.bin', 64 * 1024);
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'v4-first.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  const row = system.server.file(sender!.ID, 'v4-first.bin');
  expect(await sha256File(system.server.storedPath(row!))).toBe(f.sha256);

  // A v4 identity never becomes a v3 one: on a page forced to v3 it says why and registers nothing.
  const before = await readStoredIdentity(page);
  await page.goto(`${system.webUrl}/?protocol=3`);
  await expect(status(page)).toHaveAttribute('data-state', 'needs-v4', { timeout: 30_000 });
  await expect(status(page)).toContainText('This identity needs protocol version 4');
  expect(await readStoredIdentity(page)).toEqual(before);
  expect(system.server.clientsNamed(name)).toEqual([]);
  await page.goto(system.webUrl);
  await expectConnected(page, name);

  // Forget removes the v4 key with the identity.
  await page.getByRole('button', { name: 'Forget this identity…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Forget identity' }).click();
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  expect((await readV4Store(page)).keyExtractable).toBeNull();
});
