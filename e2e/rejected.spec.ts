import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  expect,
  expectConnected,
  readStoredIdentity,
  registerAndDismissOffer,
  status,
  test,
  uniqueName,
} from './fixtures';

test('reconnect rejected (1606): the page says the server forgot us and registers again on request', async ({
  page,
  system,
  shot,
}) => {
  const name = uniqueName('ivan');
  // Version 3's 1606 is what this checks (under v4 the key is the identity: a forgotten client is registered again).
  await page.goto(`${system.webUrl}/?protocol=3`);
  await registerAndDismissOffer(page, name);
  const [old] = system.server.clientsNamed(name);

  // The server loses the client (as after a reset of its database).
  const db = new Database(join(system.dataDir, 'defensive.db'));
  db.prepare('DELETE FROM clients WHERE ID = ?').run(old!.ID);
  db.close();

  await page.reload();
  await expect(status(page)).toHaveAttribute('data-state', 'rejected');
  await expect(status(page)).toContainText(`The server doesn’t know “${name}” any more`);
  await shot('01-reconnect-rejected');

  await page.getByRole('button', { name: `Register again as ${name}` }).click();
  await expectConnected(page, name);
  await expect(page.getByTestId('meinfo-offer')).toBeVisible();
  const [fresh] = system.server.clientsNamed(name);
  expect(fresh!.ID.equals(old!.ID)).toBe(false);
  expect((await readStoredIdentity(page))?.clientIdHex).toBe(fresh!.ID.toString('hex'));
});
