import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseMeInfo } from '../lib/crypto';
import { ROOT } from '../test/support/processes';
import {
  chooseFiles,
  expect,
  expectConnected,
  makeFile,
  readStoredIdentity,
  register,
  sha256File,
  status,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('import a me.info made by the CLI, then upload as that client', async ({
  page,
  system,
  shot,
}, testInfo) => {
  const name = uniqueName('heidi');
  const dir = testInfo.outputPath('cli');
  mkdirSync(dir);
  const first = makeFile(testInfo, 'from-cli.txt', 10 * 1024);

  // The command-line client registers (writing me.info) and sends a file, straight over TCP.
  const cli = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    [
      'cli/main.ts',
      '--protocol',
      '3',
      '--server',
      `127.0.0.1:${system.serverPort}`,
      '--name',
      name,
      '--dir',
      dir,
      first.path,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  expect(cli.status, `CLI output:\n${cli.stdout}\n${cli.stderr}`).toBe(0);
  const meInfoPath = join(dir, 'me.info');
  const identity = parseMeInfo(readFileSync(meInfoPath, 'utf8'));
  expect(identity.name).toBe(name);
  const idHex = Buffer.from(identity.clientId).toString('hex');

  // A me.info is a version 3 identity: files go as that client only by v3 (under v4 the
  // browser's own v4 key is the client, a question left to the lead).
  await page.goto(`${system.webUrl}/?protocol=3`);
  await page.getByLabel('Import me.info…').setInputFiles(meInfoPath);
  await expectConnected(page, name);
  await expect(page.getByTestId('identity-name')).toHaveText(name);
  await expect(page.getByText(idHex)).toBeVisible();
  // Imported, not offered again for download; stored as a non-extractable key.
  await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);
  expect(await readStoredIdentity(page)).toEqual({
    name,
    clientIdHex: idHex,
    extractable: false,
    type: 'private',
    algorithm: 'RSA-OAEP',
  });
  await shot('01-imported');

  const second = makeFile(testInfo, 'from-browser.bin', 2 * 1024 * 1024);
  await chooseFiles(page, [second.path]);
  await expect(uploadItem(page, 'from-browser.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });

  // One client on the server (the CLI's), now with both files, both verified and identical.
  const clients = system.server.clientsNamed(name);
  expect(clients).toHaveLength(1);
  expect(clients[0]!.ID.toString('hex')).toBe(idHex);
  for (const [fileName, f] of [
    ['from-cli.txt', first],
    ['from-browser.bin', second],
  ] as const) {
    const row = system.server.file(clients[0]!.ID, fileName);
    expect(row?.Verified, fileName).toBe(1);
    expect(await sha256File(system.server.storedPath(row!))).toBe(f.sha256);
  }
});

test('importing a file that is not a me.info says so and changes nothing', async ({
  page,
  system,
}, testInfo) => {
  const bogus = testInfo.outputPath('me.info');
  writeFileSync(bogus, 'not a name\nnot-hex\n');
  await page.goto(system.webUrl);
  await page.getByLabel('Import me.info…').setInputFiles(bogus);
  await expect(status(page)).toHaveAttribute('data-state', 'bad-file');
  await expect(status(page)).toContainText('not a usable me.info');
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  expect(await readStoredIdentity(page)).toBeNull();
});

test('the me.info downloaded from the page works in the CLI (it reconnects as the same client)', async ({
  page,
  system,
}, testInfo) => {
  const name = uniqueName('ken');
  // A me.info is offered only by a v3 registration (a v4 key cannot leave the browser).
  await page.goto(`${system.webUrl}/?protocol=3`);
  await register(page, name);
  const downloading = page.waitForEvent('download');
  await page.getByRole('button', { name: 'Download me.info' }).click();
  const dir = testInfo.outputPath('cli-from-browser');
  mkdirSync(dir);
  copyFileSync(await (await downloading).path(), join(dir, 'me.info'));

  const f = makeFile(testInfo, 'cli-after-browser.bin', 50 * 1024);
  const cli = spawnSync(
    join(ROOT, 'node_modules', '.bin', 'tsx'),
    ['cli/main.ts', '--protocol', '3', '--server', `127.0.0.1:${system.serverPort}`, '--dir', dir, f.path],
    { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
  );
  expect(cli.status, `CLI output:\n${cli.stdout}\n${cli.stderr}`).toBe(0);
  // Still one client of that name: the CLI reconnected with the browser's key, it did not register.
  const clients = system.server.clientsNamed(name);
  expect(clients).toHaveLength(1);
  const row = system.server.file(clients[0]!.ID, 'cli-after-browser.bin');
  expect(row?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(row!))).toBe(f.sha256);
});
