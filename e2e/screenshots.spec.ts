/**
 * Screenshots of each main state at desktop and phone size, light and dark, kept under
 * test-results/ (git-ignored) to be looked at: welcome, registered (by v4: the identity card
 * with its keys; the me.info offer is v3's, in the v3 states below), uploading, all sent with history, and the server unreachable; and the invite states.
 */
import { chooseFiles, expect, makeFile, register, status, test, uniqueName, uploadItem } from './fixtures';
import { createInvite } from './support/invites';

const SIZES = [
  { label: 'desktop', viewport: { width: 1280, height: 800 } },
  { label: 'phone', viewport: { width: 390, height: 844 } },
] as const;

for (const size of SIZES) {
  for (const colorScheme of ['light', 'dark'] as const) {
    test.describe(`${size.label} ${colorScheme}`, () => {
      test.use({ viewport: size.viewport, colorScheme });

      test('main states', async ({ page, system, shot }, testInfo) => {
        const at = (n: string) => `${size.label}-${colorScheme}-${n}`;
        await page.goto(system.webUrl);
        await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
        await shot(at('1-welcome'));
        await register(page, uniqueName('screens'));
        await shot(at('2-registered'));

        const big = makeFile(testInfo, 'holiday-photos.zip', 8 * 1024 * 1024);
        const small = makeFile(testInfo, 'notes.txt', 4096);
        system.proxy.bytesPerSecond = 1024 * 1024;
        system.proxy.slow = true;
        try {
          await chooseFiles(page, [big.path, small.path]);
          await expect(uploadItem(page, 'holiday-photos.zip')).toHaveAttribute(
            'data-phase',
            /sending|verifying/,
          );
          await page.waitForTimeout(2500);
          await shot(at('3-uploading'));
        } finally {
          system.proxy.slow = false;
        }
        await expect(uploadItem(page, 'notes.txt')).toHaveAttribute('data-phase', 'verified', {
          timeout: 60_000,
        });
        await shot(at('4-sent'));

        await system.stopBridge();
        try {
          await expect(status(page)).toHaveAttribute('data-state', 'unreachable', { timeout: 20_000 });
          await shot(at('5-unreachable'));
        } finally {
          await system.startBridge();
        }
      });
    });
  }
}

/** A version 3 registration: the me.info offer. */
test('v3 registered: the me.info offer', async ({ page, system, shot }) => {
  await page.goto(`${system.webUrl}/?protocol=3`);
  await register(page, uniqueName('screens-v3'));
  await shot('desktop-light-v3-registered-meinfo-offer');
});

/** The invite states (an invite-mode system): no invite, a link opened, registered and sent under it. */
for (const size of SIZES) {
  for (const colorScheme of ['light', 'dark'] as const) {
    test.describe(`invite ${size.label} ${colorScheme}`, () => {
      test.use({ viewport: size.viewport, colorScheme });

      test('invite states', async ({ page, inviteSystem, shot }, testInfo) => {
        const at = (n: string) => `${size.label}-${colorScheme}-invite-${n}`;
        await page.goto(inviteSystem.webUrl);
        await expect(page.getByTestId('invite-needed')).toBeVisible();
        await shot(at('1-needed'));
        await page.goto(
          createInvite(inviteSystem, ['--label', 'Dana', '--max-bytes', '10GiB', '--max-files', '100']),
        );
        await expect(page.getByTestId('invite-summary')).toBeVisible();
        await shot(at('2-opened'));
        await register(page, uniqueName('screens'));
        await chooseFiles(page, [makeFile(testInfo, 'report.pdf', 64 * 1024).path]);
        await expect(uploadItem(page, 'report.pdf')).toHaveAttribute('data-phase', 'verified', {
          timeout: 60_000,
        });
        await shot(at('3-sent'));
      });
    });
  }
}
