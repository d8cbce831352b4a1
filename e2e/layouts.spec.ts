import { chooseFiles, expect, makeFile, register, test, uniqueName, uploadItem } from './fixtures';

test.describe('phone width, dark scheme', () => {
  test.use({ viewport: { width: 360, height: 780 }, colorScheme: 'dark' });

  test('every main state fits a 360 px screen without sideways scrolling', async ({
    page,
    system,
    shot,
  }, testInfo) => {
    const noHorizontalScroll = () =>
      page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);

    // Version 3: its registration has the most to show (the me.info offer).
    await page.goto(`${system.webUrl}/?protocol=3`);
    await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
    expect(await noHorizontalScroll()).toBe(true);
    await shot('01-phone-dark-welcome');

    await register(page, uniqueName('judy-with-a-rather-long-name'));
    expect(await noHorizontalScroll()).toBe(true);
    await shot('02-phone-dark-registered');
    await page.getByRole('button', { name: 'Don’t save: this browser only' }).click();

    const f = makeFile(testInfo, 'a-file-with-a-long-name-to-see-how-it-wraps-on-a-phone.bin', 256 * 1024);
    await chooseFiles(page, [f.path]);
    await expect(
      uploadItem(page, 'a-file-with-a-long-name-to-see-how-it-wraps-on-a-phone.bin'),
    ).toHaveAttribute('data-phase', 'verified');
    expect(await noHorizontalScroll()).toBe(true);
    await shot('03-phone-dark-verified');
  });

  test('keyboard only: register with Tab and Enter, focus is visible', async ({ page, system }) => {
    // Version 3, for the me.info offer's button below.
    await page.goto(`${system.webUrl}/?protocol=3`);
    await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
    await page.keyboard.press('Tab');
    await expect(page.getByLabel('Your name')).toBeFocused();
    const name = uniqueName('kim');
    await page.keyboard.type(name);
    await page.keyboard.press('Enter');
    await expect(page.getByTestId('connection-status')).toHaveAttribute('data-state', 'connected', {
      timeout: 30_000,
    });
    // Tab reaches the me.info download button, and the focus ring is drawn.
    await page.getByRole('button', { name: 'Download me.info' }).focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).toBe('solid');
  });
});

test('keyboard only: the first Tab after registering lands on Choose files…, and Enter opens the chooser', async ({
  page,
  system,
}, testInfo) => {
  await page.goto(system.webUrl);
  await register(page, uniqueName('kai'));
  // From the top of the page: no invisible stop (the hidden file input) before the button.
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Choose files…' })).toBeFocused();
  const f = makeFile(testInfo, 'by-keyboard.txt', 100);
  const chooser = page.waitForEvent('filechooser');
  await page.keyboard.press('Enter');
  await (await chooser).setFiles([f.path]);
  await expect(uploadItem(page, 'by-keyboard.txt')).toHaveAttribute('data-phase', 'verified');
});
