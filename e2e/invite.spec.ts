/**
 * Invite mode as a person meets it, against a whole system started with SFT_ACCESS=invite:
 * opening a link (taken out of the address bar, kept in IndexedDB), registering, sending,
 * the invite's limits and this browser's count; an expired link said before any connection;
 * the page without an invite; a forged link refused by the bridge with its sentence; a file
 * over the invite's space (1607 at its start) explained; an invite revoked while in use.
 */
import type { Page } from '@playwright/test';
import { readInviteUnverified, tokenFromLink } from '../lib/invite';
import { runPartAsync } from '../test/support/processes';
import {
  chooseFiles,
  clientsFor,
  expect,
  makeFile,
  registerAndDismissOffer,
  status,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';
import { createInvite, signedInvite } from './support/invites';

/** Counts the WebSockets the page opens (an expired or missing invite must open none). */
function countSockets(page: Page): { opened: number } {
  const seen = { opened: 0 };
  page.on('websocket', () => seen.opened++);
  return seen;
}

/** The invite token kept in IndexedDB (database sftransfer, store keyval, key invite). */
function storedInvite(page: Page): Promise<string | null> {
  return page.evaluate(
    () =>
      new Promise<string | null>((resolve, reject) => {
        const open = indexedDB.open('sftransfer');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains('keyval')) return resolve(null);
          const get = db.transaction('keyval').objectStore('keyval').get('invite');
          get.onsuccess = () => resolve((get.result as string | undefined) ?? null);
          get.onerror = () => reject(get.error);
        };
      }),
  );
}

test('an invite link: taken out of the address, its limits shown, register, send, counted; kept across a reload', async ({
  page,
  inviteSystem: system,
  shot,
}, testInfo) => {
  const link = createInvite(system, ['--label', 'Dana', '--max-bytes', '10MiB', '--max-files', '5']);
  await page.goto(link);
  await expect(page.getByTestId('invite-summary')).toContainText(
    'Invited from Dana: up to 10 MiB and 5 files, until',
  );
  // Out of the address bar (bookmarks, history, screenshots), into IndexedDB.
  await expect.poll(() => page.url()).toBe(`${system.webUrl}/`);
  expect(await storedInvite(page)).toBe(link.slice(link.indexOf('#invite=') + '#invite='.length));
  await expect(page.getByTestId('invite-sent')).toContainText('0 files, 0 B');

  const name = uniqueName('invited');
  await registerAndDismissOffer(page, name);
  const f = makeFile(testInfo, 'invited.bin', 48 * 1024);
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'invited.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 60_000,
  });
  // One client for the invite: the page's v4 key, registered by ClientAuth (no v3 row beside it).
  expect(clientsFor(system, name)).toHaveLength(1);
  await expect(page.getByTestId('invite-sent')).toContainText('1 file, 48.0 KiB');
  await expect(page.getByRole('progressbar', { name: 'Files under this invite' })).toHaveAttribute(
    'aria-valuenow',
    '20',
  );
  await shot('invite-1-sent');

  // A reload has no fragment any more: the kept invite reconnects.
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
  await expect(page.getByTestId('invite-summary')).toContainText('from Dana');
  await expect(page.getByTestId('invite-sent')).toContainText('1 file, 48.0 KiB');
});

test('an expired link says so before connecting, and the page asks for another', async ({
  page,
  inviteSystem: system,
  shot,
}) => {
  const now = Math.floor(Date.now() / 1000);
  const link = await signedInvite(system, { iat: now - 7200, exp: now - 60 });
  const sockets = countSockets(page);
  await page.goto(link);
  await expect(page.getByTestId('invite-needed')).toContainText(
    'This invite link has expired; ask its owner for a new one.',
  );
  await expect(page.getByRole('heading', { name: 'Get started' })).toHaveCount(0);
  expect(await storedInvite(page)).toBeNull();
  await shot('invite-2-expired');
  expect(sockets.opened).toBe(0);
});

test('without an invite: "You need an invite link", no registration form; a pasted link opens it', async ({
  page,
  inviteSystem: system,
  shot,
}) => {
  const sockets = countSockets(page);
  await page.goto(system.webUrl);
  await expect(page.getByTestId('invite-needed')).toContainText(
    'You need an invite link from the owner of this server',
  );
  await expect(page.getByRole('heading', { name: 'Get started' })).toHaveCount(0);
  await expect(page.getByLabel('Your name')).toHaveCount(0);
  await shot('invite-3-needed');
  expect(sockets.opened).toBe(0);

  await page.getByRole('textbox', { name: 'Invite link' }).fill('https://example.org/#invite=nonsense');
  await page.getByRole('button', { name: 'Use this link' }).click();
  await expect(page.getByTestId('invite-needed')).toContainText('This invite link is damaged');

  await page.getByRole('textbox', { name: 'Invite link' }).fill(createInvite(system, ['--label', 'Sam']));
  await page.getByRole('button', { name: 'Use this link' }).click();
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
  await expect(page.getByTestId('invite-summary')).toContainText('Invited from Sam');
});

test('a forged link (another key) is refused by the bridge, and the page says so', async ({
  page,
  inviteSystem: system,
}) => {
  await page.goto(await signedInvite(system, { label: 'Mallory' }, { forged: true }));
  await expect(page.getByTestId('invite-summary')).toContainText('from Mallory');
  await page.getByLabel('Your name').fill(uniqueName('forged'));
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(status(page)).toHaveAttribute('data-state', 'invite', { timeout: 30_000 });
  await expect(page.getByTestId('invite-needed')).toContainText(
    'This invite link was not made by this server; ask its owner for a new one.',
  );
});

test('a file over the invite’s space is refused at its start (v4 Error 6, v3 1607), and the page says why', async ({
  page,
  inviteSystem: system,
}, testInfo) => {
  await page.goto(createInvite(system, ['--label', 'Kim', '--max-bytes', '64KiB']));
  await expect(page.getByTestId('invite-summary')).toContainText('up to 64 KiB');
  const name = uniqueName('quota');
  await registerAndDismissOffer(page, name);
  const big = makeFile(testInfo, 'too-big.bin', 200 * 1024);
  await chooseFiles(page, [big.path]);
  await expect(uploadItem(page, 'too-big.bin')).toHaveAttribute('data-phase', 'failed', { timeout: 60_000 });
  // The page speaks v4 under invites: Error 6 says it outright (v3's bare 1607 is explained as "most likely").
  await expect(uploadItem(page, 'too-big.bin').getByTestId('upload-error')).toContainText(
    /Over the space or number of files allowed\. \(This invite allows [0-9.]+ KiB in all; this file \(200\.0 KiB\) would pass it\.\)/,
  );
  // Said to the sender, not only under the owner's details: the server's figures and what to do.
  await expect(uploadItem(page, 'too-big.bin').getByTestId('upload-error').locator('p').first()).toHaveText(
    /over the space or number of files you may store\. This invite allows [0-9.]+ KiB in all; this file \(200\.0 KiB\) would pass it\. Ask whoever invited you for more room, or send less\.$/,
  );
  await expect(page.getByTestId('invite-sent')).toContainText('0 files, 0 B');
  // Nothing of it was stored.
  const [client] = clientsFor(system, name);
  expect(system.server.filesOf(client!.ID)).toEqual([]);
  expect(system.server.filesOnDisk(client!.ID.toString('hex'))).toEqual([]);
});

test('revoked while the page is open: the next file is refused and explained; a reload asks for a new link', async ({
  page,
  inviteSystem: system,
}, testInfo) => {
  const link = createInvite(system, ['--label', 'Lee']);
  const { id } = readInviteUnverified(tokenFromLink(link));
  await page.goto(link);
  await registerAndDismissOffer(page, uniqueName('revoked'));
  await chooseFiles(page, [makeFile(testInfo, 'before.bin', 4096).path]);
  await expect(uploadItem(page, 'before.bin')).toHaveAttribute('data-phase', 'verified', { timeout: 60_000 });

  await runPartAsync('server', ['invite', 'revoke', id, '--data', system.dataDir]);
  await chooseFiles(page, [makeFile(testInfo, 'after.bin', 4096).path]);
  await expect(uploadItem(page, 'after.bin')).toHaveAttribute('data-phase', 'failed', { timeout: 60_000 });
  await expect(uploadItem(page, 'after.bin').getByTestId('upload-error')).toContainText(
    'This invite is not valid (forged, expired or revoked)',
  );

  // Under v4 the server refuses the revoked invite at ClientAuth (Error 5): the page asks for a new link.
  await page.reload();
  await expect(status(page)).toHaveAttribute('data-state', 'invite', { timeout: 30_000 });
  await expect(page.getByTestId('invite-needed')).toContainText(
    'This invite is not valid (forged, expired or revoked)',
  );
});

test('a link opened in a tab where the page is already open (only the fragment changes) is taken too', async ({
  page,
  inviteSystem: system,
}) => {
  await page.goto(system.webUrl);
  await expect(page.getByTestId('invite-needed')).toBeVisible();
  const link = createInvite(system, ['--label', 'Ari']);
  await page.evaluate(
    (hash) => {
      window.location.hash = hash;
    },
    link.slice(link.indexOf('#')),
  );
  await expect(page.getByTestId('invite-summary')).toContainText('Invited from Ari');
  await expect.poll(() => page.url()).toBe(`${system.webUrl}/`);
  await expect(page.getByRole('heading', { name: 'Get started' })).toBeVisible();
});
