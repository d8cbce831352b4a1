/**
 * End-to-end tests in Debian's Chromium against the production build. The fixture in
 * e2e/fixtures.ts starts the file server, the bridge and `next start` on free loopback
 * ports with a temporary data folder; global-setup builds the app when it is stale.
 */
import { defineConfig } from '@playwright/test';
import { CHROMIUM_BASE_FLAGS, CHROMIUM_PATH } from './test/support/chromium';

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  workers: 1,
  retries: 0,
  fullyParallel: false,
  reporter: 'list',
  timeout: 120_000,
  expect: { timeout: 15_000 },
  outputDir: 'test-results',
  use: {
    browserName: 'chromium',
    acceptDownloads: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: CHROMIUM_PATH,
      args: CHROMIUM_BASE_FLAGS,
    },
  },
});
