import {
  chooseFiles,
  expect,
  makeFile,
  registerAndDismissOffer,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('CRC failures injected between bridge and server: the page shows the retries and the final failure; the server keeps no file', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('frank');
  // Version 3's CRC retries are what this checks (v4 records are authenticated: a flipped byte is Error 13).
  await page.goto(`${system.webUrl}/?protocol=3`);
  await registerAndDismissOffer(page, name);
  const [client] = system.server.clientsNamed(name);

  // Record every phase label the item shows, so fast retries are not missed.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { phasesSeen: string[] }).phasesSeen = seen;
    new MutationObserver(() => {
      for (const el of document.querySelectorAll('[data-testid="upload-phase"]')) {
        const t = el.textContent ?? '';
        if (seen[seen.length - 1] !== t) seen.push(t);
      }
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });

  const f = makeFile(testInfo, 'corrupted.bin', 512 * 1024);
  const flippedBefore = system.proxy.corrupted;
  system.proxy.flip = true;
  // Slowed down so each attempt is on screen long enough to be seen.
  system.proxy.bytesPerSecond = 1024 * 1024;
  system.proxy.slow = true;
  try {
    await chooseFiles(page, [f.path]);
    const item = uploadItem(page, 'corrupted.bin');
    await expect(item.getByTestId('upload-phase')).toContainText('Retrying 2/4');
    await shot('01-crc-retrying');
    await expect(item).toHaveAttribute('data-phase', 'failed', { timeout: 60_000 });
    await expect(item).toHaveAttribute('data-attempt', '4');
    await expect(item.getByTestId('upload-error')).toContainText('on all 4 attempts');
    await shot('02-crc-failed');
  } finally {
    system.proxy.flip = false;
    system.proxy.slow = false;
  }
  // Four 1028 sequences went out and each was corrupted.
  expect(system.proxy.corrupted - flippedBefore).toBe(4);
  const phases = await page.evaluate(() => (window as unknown as { phasesSeen: string[] }).phasesSeen);
  for (const n of [2, 3, 4]) expect(phases.some((p) => p.startsWith(`Retrying ${n}/4`))).toBe(true);
  expect(phases[phases.length - 1]).toBe('Failed');
  await expect(page.getByTestId('history').locator('li[data-outcome="failed"]')).toHaveCount(1);

  // The server dropped the file: no row, nothing on disk.
  expect(system.server.file(client!.ID, 'corrupted.bin')).toBeUndefined();
  expect(system.server.filesOnDisk(client!.ID.toString('hex'))).not.toContain('corrupted.bin');

  // The connection is still good: "Send again" now goes through.
  await uploadItem(page, 'corrupted.bin')
    .getByRole('button', { name: /Send again/ })
    .click();
  await expect(uploadItem(page, 'corrupted.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  expect(system.server.file(client!.ID, 'corrupted.bin')?.Verified).toBe(1);
});
