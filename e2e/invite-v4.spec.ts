/**
 * Invited people speak protocol 4: an invite link with the server's key fingerprint
 * (`&server=SHA256:...`, as `invite create` prints it) is opened, the page registers only its
 * v4 key (ClientAuth with the name: one client, bound to the invite; no RSA key, no me.info)
 * and sends by v4; the first connection is checked against the link's fingerprint. A link
 * naming another key stops before ClientAuth with the warning naming both, nothing logged as
 * sent; a link that disagrees with a key already pinned is said too, and the pin stays.
 */
import { readInviteUnverified, tokenFromLink } from '../lib/invite';
import { runPart } from '../test/support/processes';
import {
  chooseFiles,
  clientsFor,
  expect,
  expectConnected,
  makeFile,
  readStoredIdentity,
  readV4Store,
  register,
  registerAndDismissOffer,
  sha256File,
  status,
  test,
  uniqueName,
  uploadItem,
  v4StoredFile,
} from './fixtures';
import { createInvite } from './support/invites';

const WRONG = `SHA256:${'A'.repeat(42)}E`;

/** The `server=` fingerprint of a link. */
const linkFingerprint = (link: string) =>
  new URLSearchParams(link.slice(link.indexOf('#') + 1)).get('server');

/** `npm run server -- clients list --json`: one object per line. */
function clientsList(dataDir: string): { name: string; invite: string | null }[] {
  return runPart('server', ['clients', 'list', '--json', '--data', dataDir])
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { name: string; invite: string | null });
}

test('an invite link with the server’s fingerprint: one v4 registration for the invite, the file by protocol 4, the keys on the card', async ({
  page,
  inviteSystem: system,
  shot,
}, testInfo) => {
  const link = createInvite(system, ['--label', 'Dana'], { withServer: true });
  const fp = linkFingerprint(link);
  expect(fp).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  const { id } = readInviteUnverified(tokenFromLink(link));
  await page.goto(link);
  await expect(page.getByTestId('invite-summary')).toContainText('Invited from Dana');
  await expect.poll(() => page.url()).toBe(`${system.webUrl}/`);

  const name = uniqueName('ines');
  expect(await register(page, name)).toBe(4);
  await expect(page.getByTestId('meinfo-offer')).toHaveCount(0);
  const f = makeFile(testInfo, 'invited-v4.bin', 1024 * 1024 + 777);
  await chooseFiles(page, [f.path]);
  const row = uploadItem(page, 'invited-v4.bin');
  await expect(row).toHaveAttribute('data-phase', 'verified', { timeout: 60_000 });
  await expect(row).toHaveAttribute('data-protocol', '4');

  // The server: one client for the invite, registered by v4 (ClientAuth), no v3 row.
  const mine = clientsList(system.dataDir).filter(
    (c) => c.name === name || c.name.startsWith(`${name} [v4 `),
  );
  expect(mine).toHaveLength(1);
  expect(mine[0]!.invite).toBe(id);
  expect(clientsFor(system, name)).toHaveLength(1);
  const auth = system.serverLines().filter((l) => l.event === 'v4-authenticated' && l.name === name);
  expect(auth.length).toBeGreaterThanOrEqual(1);
  expect(auth[0]).toMatchObject({ protocol: 4, registered: true, inviteId: id });
  expect(system.serverLines().some((l) => l.event === 'v4-upload-done' && l.file === 'invited-v4.bin')).toBe(
    true,
  );
  // The stored file is identical.
  const stored = v4StoredFile(system, name, 'invited-v4.bin');
  expect(stored?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(stored!))).toBe(f.sha256);

  // The page: a v4 identity (no RSA key), the pin is the link's fingerprint.
  const identity = await readStoredIdentity(page);
  expect(identity).toMatchObject({
    name,
    clientIdHex: clientsFor(system, name)[0]!.ID.toString('hex'),
    extractable: null,
  });
  const address = new URL(system.bridgeUrl).host;
  expect((await readV4Store(page)).pins[address]).toBe(fp);

  // The card: this browser's v4 key (the server names the client by its short fingerprint) and the pinned server key.
  const key = (await page.getByTestId('identity-v4-key').textContent()) ?? '';
  expect(key).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  expect(mine[0]!.name).toBe(`${name} [v4 ${key.slice(7, 15)}]`);
  await expect(page.getByTestId('identity-server-key')).toHaveText(fp!);
  await expect(page.getByTestId('identity-protocol')).toHaveText('protocol 4');
  await expect(page.getByTestId('identity-no-file')).toContainText('cannot leave this browser');
  await shot('invite-v4-1-sent');

  // A reload reconnects by v4 with the same key: still one client.
  await page.reload();
  await expectConnected(page, name);
  await expect(page.getByTestId('protocol-footer')).toHaveAttribute('data-protocol', '4');
  expect(clientsFor(system, name)).toHaveLength(1);

  // A link naming another key than the one pinned here: said, the pin stays, nothing sent.
  const other = createInvite(system, ['--label', 'Eve']);
  await page.evaluate(
    (hash) => {
      window.location.hash = hash;
    },
    `${other.slice(other.indexOf('#'))}&server=${encodeURIComponent(WRONG)}`,
  );
  await expect(status(page)).toHaveAttribute('data-state', 'server-key-changed', { timeout: 30_000 });
  await expect(status(page)).toContainText(
    `The invite link says the server at ${address} has the key ${WRONG}`,
  );
  await expect(status(page)).toContainText(fp!);
  expect((await readV4Store(page)).pins[address]).toBe(fp);
  await shot('invite-v4-2-link-disagrees-with-pin');
});

test('a v3 identity registered under an invite keeps working on auto: v3, its one client, no v4 key refused', async ({
  page,
  inviteSystem: system,
}, testInfo) => {
  const link = createInvite(system, ['--label', 'Old']);
  await page.goto(link.replace('/#', '/?protocol=3#'));
  const name = uniqueName('olga');
  expect(await registerAndDismissOffer(page, name)).toBe(3);
  // The same browser on the page as everyone opens it (auto).
  await page.goto(system.webUrl);
  await expectConnected(page, name);
  await expect(page.getByTestId('protocol-footer')).toHaveAttribute('data-protocol', '3');
  const f = makeFile(testInfo, 'old-identity.bin', 20 * 1024);
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'old-identity.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  expect(clientsFor(system, name).map((c) => c.Name)).toEqual([name]);
});

test('an invite link naming another server key: the warning names both, nothing is sent, no client registered', async ({
  page,
  inviteSystem: system,
  shot,
}) => {
  const good = createInvite(system, ['--label', 'Mal'], { withServer: true });
  const real = linkFingerprint(good)!;
  const link = good.replace(/&server=[\w%.-]+$/, `&server=${encodeURIComponent(WRONG)}`);
  const before = system.serverLines().length;
  await page.goto(link);
  await expect(page.getByTestId('invite-summary')).toContainText('from Mal');
  const name = uniqueName('mal');
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Register' }).click();

  await expect(status(page)).toHaveAttribute('data-state', 'server-key-changed', { timeout: 30_000 });
  await expect(status(page)).toContainText('Warning: the server’s key has changed');
  await expect(status(page)).toContainText(`identified itself with the key ${real}`);
  await expect(status(page)).toContainText(`the invite link says its key is ${WRONG}`);
  await shot('invite-v4-3-wrong-fingerprint');

  // Stopped before ClientAuth: the server authenticated no one, registered no one, stored nothing.
  await page.waitForTimeout(1000);
  const after = system.serverLines().slice(before);
  expect(
    after.filter((l) => l.event === 'v4-authenticated' || String(l.event).startsWith('v4-upload')),
  ).toEqual([]);
  expect(clientsFor(system, name)).toEqual([]);
  expect(await readStoredIdentity(page)).toBeNull();
});
