import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  registerAndDismissOffer,
  senderOf,
  sha256File,
  status,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('bridge down: a clear message, then it recovers on its own when the bridge is back', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('dave');
  await page.goto(system.webUrl);
  await registerAndDismissOffer(page, name);

  await system.stopBridge();
  try {
    await expect(status(page)).toHaveAttribute('data-state', 'unreachable', { timeout: 20_000 });
    await expect(status(page)).toContainText('Can’t reach the file server');
    await expect(status(page)).toContainText(system.bridgeUrl);
    await expect(page.getByRole('button', { name: 'Try again now' })).toBeVisible();
    await shot('01-bridge-unreachable');

    // A file chosen meanwhile waits in the queue.
    const f = makeFile(testInfo, 'queued-while-down.bin', 64 * 1024);
    await chooseFiles(page, [f.path]);
    await expect(uploadItem(page, 'queued-while-down.bin')).toHaveAttribute('data-phase', 'queued');

    // "Try again now" while still down keeps saying so.
    await page.getByRole('button', { name: 'Try again now' }).click();
    await expect(status(page)).toHaveAttribute('data-state', 'unreachable', { timeout: 20_000 });
  } finally {
    await system.startBridge();
  }
  // Automatic retry (no click): back to connected, and the queued file goes out.
  await expectConnected(page, name, 40_000);
  await expect(uploadItem(page, 'queued-while-down.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 30_000,
  });
  const client = senderOf(system, name);
  const row = system.server.file(client!.ID, 'queued-while-down.bin');
  expect(row?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(row!))).toBe(
    makeFile(testInfo, 'queued-while-down.bin', 64 * 1024).sha256,
  );
  await shot('02-recovered');
});

test('first visit with the bridge down: registering explains what is wrong', async ({
  page,
  system,
  shot,
}) => {
  await page.goto(system.webUrl);
  await system.stopBridge();
  try {
    await page.getByLabel('Your name').fill(uniqueName('erin'));
    await page.getByRole('button', { name: 'Register' }).click();
    await expect(status(page)).toHaveAttribute('data-state', 'unreachable', { timeout: 20_000 });
    await expect(status(page)).toContainText('Check that both are running');
    // The form stays usable for another attempt.
    await expect(page.getByRole('button', { name: 'Register' })).toBeEnabled();
    await shot('01-register-bridge-down');
  } finally {
    await system.startBridge();
  }
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(status(page)).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
});

test('a dropped connection: the page reconnects by itself and keeps sending', async ({
  page,
  system,
}, testInfo) => {
  const name = uniqueName('olga');
  await page.goto(system.webUrl);
  await registerAndDismissOffer(page, name);

  // Dropped right away: said out loud ("Connection lost"), then reconnected.
  system.proxy.dropConnections();
  await expect(status(page)).toHaveAttribute('data-state', /lost|connecting/);
  await expectConnected(page, name);

  const f = makeFile(testInfo, 'after-drop.bin', 128 * 1024);
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'after-drop.bin')).toHaveAttribute('data-phase', 'verified');
  const client = senderOf(system, name);
  expect(system.server.file(client!.ID, 'after-drop.bin')?.Verified).toBe(1);
});
