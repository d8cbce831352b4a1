/**
 * Playwright fixtures: `system` (server, proxy, bridge, web app; one per worker, and the
 * config runs one worker) and helpers every test uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { test as base, expect, type Locator, type Page, type TestInfo } from '@playwright/test';

export { sha256File } from '../test/support/server-state';

import { queryDb } from '../test/support/server-state';

import { runningSystems, type System, startSystem } from './support/system';

export { expect };

export const test = base.extend<
  { shot: (name: string) => Promise<void>; browserLog: string[] },
  { system: System; inviteSystem: System }
>({
  system: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the destructuring form.
    async ({}, use) => {
      const system = await startSystem();
      await use(system);
      await system.stop();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  /** A second whole system in invite mode (SFT_ACCESS=invite); started only by specs that use it. */
  inviteSystem: [
    // biome-ignore lint/correctness/noEmptyPattern: Playwright requires the destructuring form.
    async ({}, use) => {
      const system = await startSystem({ access: 'invite' });
      await use(system);
      await system.stop();
    },
    { scope: 'worker', timeout: 120_000 },
  ],
  /** Console messages and errors of every page in the test, attached when the test fails. */
  browserLog: [
    async ({ context }, use, testInfo) => {
      const lines: string[] = [];
      const watch = (p: Page) => logPage(p, lines);
      context.on('page', watch);
      for (const p of context.pages()) watch(p);
      await use(lines);
      if (testInfo.status !== testInfo.expectedStatus) {
        if (lines.length > 0)
          await testInfo.attach('browser-log', { body: lines.join('\n'), contentType: 'text/plain' });
        // Printed, not only attached: CI keeps the runner's output and nothing of test-results/.
        process.stdout.write(await failureReport(context.pages(), lines));
      }
    },
    { auto: true },
  ],
  /** Screenshot of the page kept as a test artifact (attached to the report and in test-results/). */
  shot: async ({ page }, use, testInfo) => {
    await use(async (name) => {
      const path = testInfo.outputPath(`${name}.png`);
      await page.screenshot({ path, fullPage: true });
      await testInfo.attach(name, { path, contentType: 'image/png' });
    });
  },
});

/** Lines of a log file, the last `n`. */
function tail(path: string, n: number): string[] {
  return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-n);
}

/**
 * What a failed test leaves in the runner's output: each page's connection status (state and
 * text), the browser's last console lines, and the last lines of every running system's logs.
 */
async function failureReport(pages: Page[], browserLines: string[]): Promise<string> {
  const out = ['', '--- failure report ---'];
  for (const p of pages) {
    const s = p.getByTestId('connection-status');
    const state = await s.getAttribute('data-state', { timeout: 1000 }).catch(() => '?');
    const text = await s.textContent({ timeout: 1000 }).catch(() => '?');
    out.push(`page ${p.url()}: status ${state}: ${text}`);
  }
  if (browserLines.length) out.push('browser (last 20):', ...browserLines.slice(-20));
  for (const system of runningSystems) {
    for (const file of readdirSync(system.logDir).sort()) {
      const lines = tail(join(system.logDir, file), 15).filter(Boolean);
      if (lines.length) out.push(`${file} (last ${lines.length}):`, ...lines.map((l) => l.slice(0, 400)));
    }
  }
  return `${out.join('\n')}\n--- end of failure report ---\n`;
}

/** Copies a page's console, errors and failed requests into `lines`. */
export function logPage(p: Page, lines: string[]): void {
  p.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  p.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  p.on('requestfailed', (r) => lines.push(`[requestfailed] ${r.url()} ${r.failure()?.errorText ?? ''}`));
}

/** Unique client names, so tests sharing one server never collide. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Writes `size` pseudo-random bytes (deterministic per seed) to a file; returns path and sha256. */
export function makeFile(
  testInfo: TestInfo,
  name: string,
  size: number,
  seed = name,
): { path: string; sha256: string } {
  const path = testInfo.outputPath(name);
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  let block = createHash('sha512').update(seed).digest();
  let written = 0;
  const CHUNK = 1024 * 1024;
  try {
    while (written < size) {
      const n = Math.min(CHUNK, size - written);
      const buf = Buffer.alloc(n);
      for (let off = 0; off < n; off += block.length) {
        block = createHash('sha512').update(block).digest();
        block.copy(buf, off, 0, Math.min(block.length, n - off));
      }
      writeSync(fd, buf);
      hash.update(buf);
      written += n;
    }
  } finally {
    closeSync(fd);
  }
  return { path, sha256: hash.digest('hex') };
}

export const status = (page: Page) => page.getByTestId('connection-status');

/** Waits until the page says it is connected as `name`. */
export async function expectConnected(page: Page, name: string, timeout = 30_000): Promise<void> {
  await expect(status(page)).toHaveAttribute('data-state', 'connected', { timeout });
  await expect(status(page)).toContainText(`Connected as ${name}`);
}

/** The protocol the page's connection speaks (the footer's data-protocol), once connected. */
export async function pageProtocol(page: Page): Promise<3 | 4> {
  const footer = page.getByTestId('protocol-footer');
  await expect(footer).toHaveAttribute('data-protocol', /^[34]$/);
  return (await footer.getAttribute('data-protocol')) === '4' ? 4 : 3;
}

/**
 * First visit: types a name and registers; waits for the connection. A v3 registration
 * offers me.info; a v4 one (its key is the identity and cannot leave the browser) does not.
 * Returns the protocol the page registered by.
 */
export async function register(page: Page, name: string): Promise<3 | 4> {
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Register' }).click();
  await expectConnected(page, name);
  const protocol = await pageProtocol(page);
  if (protocol === 3) await expect(page.getByTestId('meinfo-offer')).toBeVisible();
  else await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);
  return protocol;
}

/** register(), then dismisses the me.info download offer when there is one: the start of most tests. */
export async function registerAndDismissOffer(page: Page, name: string): Promise<3 | 4> {
  const protocol = await register(page, name);
  if (protocol === 3) await page.getByRole('button', { name: 'Don’t save: this browser only' }).click();
  return protocol;
}

export function uploadItem(page: Page, fileName: string): Locator {
  return page.locator(`[data-testid="upload-item"][data-name="${fileName}"]`);
}

/** Chooses files through the "Choose files" button's file input. */
export async function chooseFiles(page: Page, paths: string[]): Promise<void> {
  await page.locator('input[type="file"][multiple]').setInputFiles(paths);
}

/**
 * The stored identity as the page sees it in IndexedDB (database sftransfer, store keyval);
 * a protocol v4 identity has no RSA key (its key fields are null).
 */
export function readStoredIdentity(page: Page) {
  return page.evaluate(
    () =>
      new Promise<{
        name: string;
        clientIdHex: string;
        extractable: boolean | null;
        type: string | null;
        algorithm: string | null;
      } | null>((resolve, reject) => {
        const open = indexedDB.open('sftransfer');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('keyval')) return resolve(null);
          const get = db.transaction('keyval').objectStore('keyval').get('identity');
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            const v = get.result as
              | { name: string; clientId: Uint8Array; privateKey?: CryptoKey }
              | undefined;
            if (!v) return resolve(null);
            resolve({
              name: v.name,
              clientIdHex: Array.from(v.clientId, (b) => b.toString(16).padStart(2, '0')).join(''),
              extractable: v.privateKey?.extractable ?? null,
              type: v.privateKey?.type ?? null,
              algorithm: v.privateKey?.algorithm.name ?? null,
            });
          };
        };
      }),
  );
}

export const dataPath = (system: System, ...parts: string[]) => join(system.dataDir, ...parts);

/**
 * A file the server stored for the protocol v4 client registered under `name` (the server
 * names a v4 client `name [v4 <fingerprint>]`): its row, or undefined.
 */
export function v4StoredFile(system: System, name: string, fileName: string) {
  const clients = queryDb<{ ID: Buffer }>(
    system.dataDir,
    'SELECT ID FROM clients WHERE Name LIKE ?',
    `${name} [v4 %`,
  );
  if (clients.length !== 1) return undefined;
  return system.server.file(clients[0]!.ID, fileName);
}

/** The page's v4 state in IndexedDB: whether its key is non-extractable, and its pins. */
export function readV4Store(page: Page) {
  return page.evaluate(
    () =>
      new Promise<{ keyExtractable: boolean | null; algorithm: string | null; pins: Record<string, string> }>(
        (resolve, reject) => {
          const open = indexedDB.open('sftransfer');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const store = open.result.transaction('keyval').objectStore('keyval');
            const key = store.get('v4identity');
            const pins = store.get('v4pins');
            pins.onsuccess = () => {
              const k = key.result as { privateKey: CryptoKey } | undefined;
              resolve({
                keyExtractable: k ? k.privateKey.extractable : null,
                algorithm: k ? k.privateKey.algorithm.name : null,
                pins: (pins.result as Record<string, string> | undefined) ?? {},
              });
            };
            pins.onerror = () => reject(pins.error);
          };
        },
      ),
  );
}

/** Every client row for `name`: the v3 one (exactly `name`) and v4 ones (`name [v4 <fingerprint>]`). */
export function clientsFor(system: System, name: string) {
  return queryDb<{ ID: Buffer; Name: string; InviteID: string | null }>(
    system.dataDir,
    'SELECT ID, Name, InviteID FROM clients WHERE Name = ? OR Name LIKE ?',
    name,
    `${name} [v4 %`,
  );
}

/**
 * The server's client row that holds the files `name` sent, whichever protocol the page
 * used: the v4 client (`name [v4 <fingerprint>]`) if there is one, else the v3 client.
 */
export function senderOf(system: System, name: string) {
  const [v4] = queryDb<{ ID: Buffer; Name: string; PublicKey: Buffer | null; LastSeen: string | null }>(
    system.dataDir,
    'SELECT ID, Name, PublicKey, LastSeen FROM clients WHERE Name LIKE ?',
    `${name} [v4 %`,
  );
  return v4 ?? system.server.clientsNamed(name)[0];
}
