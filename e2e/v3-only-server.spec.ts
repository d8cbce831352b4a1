/**
 * A protocol v4 identity meeting a server that speaks only version 3, for real: the system's
 * proxy between bridge and server answers every v4 ClientHello as a v3 server would (a 1607
 * and a close, or a bare close) and lets v3 through. The page says `needs-v4`, keeps its
 * identity, registers nothing (no v3 registration, no new client) and connects again once the
 * server speaks v4. And the server losing a v4 client (`clients remove`): the page is told
 * once that its key was registered again under a new client ID.
 */
import { runPartAsync } from '../test/support/processes';
import { queryDb } from '../test/support/server-state';
import {
  expect,
  expectConnected,
  readStoredIdentity,
  register,
  senderOf,
  status,
  test,
  uniqueName,
} from './fixtures';

const allClients = (dataDir: string) =>
  queryDb<{ n: number }>(dataDir, 'SELECT COUNT(*) AS n FROM clients')[0]!.n;

test('a v4 identity and a v3-only server: needs-v4, nothing registered, the identity kept; fine again once v4 is back', async ({
  page,
  system,
}) => {
  const name = uniqueName('vera');
  await page.goto(system.webUrl);
  expect(await register(page, name)).toBe(4);
  const before = await readStoredIdentity(page);
  const clients = allClients(system.dataDir);
  try {
    for (const mode of ['answer', 'close'] as const) {
      system.proxy.v3Only = mode;
      const refused = system.proxy.v4Refused;
      const connections = system.proxy.connections;
      await page.reload();
      await expect(status(page)).toHaveAttribute('data-state', 'needs-v4', { timeout: 30_000 });
      await expect(status(page)).toContainText('This identity needs protocol version 4');
      await expect(status(page)).toContainText('version 3 server');
      // The v4 ClientHello was refused; no other connection (a v3 registration) was tried.
      expect(system.proxy.v4Refused).toBeGreaterThan(refused);
      expect(system.proxy.connections - connections).toBe(system.proxy.v4Refused - refused);
      expect(await readStoredIdentity(page)).toEqual(before);
      expect(allClients(system.dataDir)).toBe(clients);
      expect(system.server.clientsNamed(name)).toEqual([]);
    }
  } finally {
    system.proxy.v3Only = false;
  }
  await page.getByRole('button', { name: 'Try again now' }).click();
  await expectConnected(page, name);
  expect(await readStoredIdentity(page)).toEqual(before);
});

test('the server lost this browser’s v4 client: the page says once that it was registered again under a new client ID', async ({
  page,
  system,
  shot,
}) => {
  const name = uniqueName('rita');
  await page.goto(system.webUrl);
  expect(await register(page, name)).toBe(4);
  const old = senderOf(system, name)!;
  const oldHex = old.ID.toString('hex');
  await expect(page.getByTestId('registered-again')).toHaveCount(0);

  // The server stops, forgets the client, and starts again; the page reconnects on its own.
  // (--files: without it the server keeps the key's v4_keys row and refuses the key for good.)
  // (Not runPart: a synchronous run would freeze the proxy in this process meanwhile.)
  await system.restartServer(async () => {
    await runPartAsync('server', ['clients', 'remove', old.Name, '--files', '--data', system.dataDir]);
  });
  await expect(page.getByTestId('registered-again')).toBeVisible({ timeout: 45_000 });
  await expectConnected(page, name);
  const fresh = senderOf(system, name)!;
  const freshHex = fresh.ID.toString('hex');
  expect(freshHex).not.toBe(oldHex);
  const note = page.getByTestId('registered-again');
  await expect(note).toBeVisible();
  await expect(note).toContainText('registered the key again as a new client');
  await expect(note).toContainText(freshHex);
  await expect(note).toContainText(`Files sent before are under the old client ID ${oldHex}`);
  expect((await readStoredIdentity(page))?.clientIdHex).toBe(freshHex);
  await shot('registered-again');

  // Told once: dismissed, and not again after a reload (the stored ID is the server's now).
  await note.getByRole('button', { name: 'Got it' }).click();
  await expect(note).toHaveCount(0);
  await page.reload();
  await expectConnected(page, name);
  await expect(page.getByTestId('registered-again')).toHaveCount(0);
});
