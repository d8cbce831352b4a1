import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  readStoredIdentity,
  registerAndDismissOffer,
  sha256File,
  status,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

/** Response codes the page received, read from the bridge's WebSocket frames (header bytes 1..2). */
function watchResponseCodes(page: import('@playwright/test').Page): number[] {
  const codes: number[] = [];
  page.on('websocket', (ws) => {
    ws.on('framereceived', ({ payload }) => {
      const b = typeof payload === 'string' ? Buffer.from(payload) : payload;
      if (b.length >= 7) codes.push(b.readUInt16LE(1));
    });
  });
  return codes;
}

test('reload: reconnects with the stored identity (1027 -> 1605) and uploads again; forget asks first', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('bob');
  // Version 3's reconnect (1027) is what this checks; v4's reload is in v4-upload.spec.ts.
  await page.goto(`${system.webUrl}/?protocol=3`);
  await registerAndDismissOffer(page, name);
  const [before] = system.server.clientsNamed(name);

  const codes = watchResponseCodes(page);
  await page.reload();
  await expectConnected(page, name);
  await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);
  await expect(page.getByRole('heading', { name: 'Get started' })).toHaveCount(0);
  await shot('01-reconnected');
  // The worker's WebSocket frames, as Chromium reports them: a reconnect (1605), no registration (1600).
  await expect.poll(() => codes).toContain(1605);
  expect(codes).not.toContain(1600);

  // The server still has the one client with the same ID and key: no new registration.
  const after = system.server.clientsNamed(name);
  expect(after).toHaveLength(1);
  expect(after[0]!.ID.equals(before!.ID)).toBe(true);
  expect(after[0]!.PublicKey!.equals(before!.PublicKey!)).toBe(true);

  const f = makeFile(testInfo, 'after-reload.txt', 300 * 1024);
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'after-reload.txt')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  const row = system.server.file(before!.ID, 'after-reload.txt');
  expect(row?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(row!))).toBe(f.sha256);

  // Forget: a confirmation first; "Keep it" changes nothing.
  await page.getByRole('button', { name: 'Forget this identity…' }).click();
  const dialog = page.getByRole('dialog', { name: `Forget “${name}”?` });
  await expect(dialog).toBeVisible();
  await shot('02-forget-confirmation');
  await dialog.getByRole('button', { name: 'Keep it' }).click();
  await expect(dialog).toBeHidden();
  expect((await readStoredIdentity(page))?.name).toBe(name);

  await page.getByRole('button', { name: 'Forget this identity…' }).click();
  await dialog.getByRole('button', { name: 'Forget identity' }).click();
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  expect(await readStoredIdentity(page)).toBeNull();
  await page.reload();
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  await expect(status(page)).toHaveAttribute('data-state', 'idle');
});
