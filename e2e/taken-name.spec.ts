import { expect, expectConnected, logPage, register, status, test, uniqueName } from './fixtures';

test('a taken name: the page says so and another name works', async ({
  browser,
  page,
  system,
  shot,
  browserLog,
}) => {
  const name = uniqueName('carol');
  // Someone else (another browser profile) registers the name first.
  const other = await browser.newContext();
  const otherPage = await other.newPage();
  logPage(otherPage, browserLog);
  // Names are unique in version 3 only (a v4 client is known by its key, its name is for people).
  await otherPage.goto(`${system.webUrl}/?protocol=3`);
  await register(otherPage, name);
  await other.close();

  await page.goto(`${system.webUrl}/?protocol=3`);
  await page.getByLabel('Your name').fill(name);
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(status(page)).toHaveAttribute('data-state', 'name-taken');
  await expect(status(page)).toContainText(`The name “${name}” is not available`);
  await expect(status(page)).toContainText('Choose another name');
  // The form keeps the name, marked invalid, so it can be edited.
  await expect(page.getByLabel('Your name')).toHaveValue(name);
  await expect(page.getByLabel('Your name')).toHaveAttribute('aria-invalid', 'true');
  // Said once, in the status; the form only marks the field.
  await expect(page.locator('form')).not.toContainText('taken');
  await shot('01-name-taken');

  // Only the first registration exists on the server.
  expect(system.server.clientsNamed(name)).toHaveLength(1);

  const second = `${name}-2`;
  await page.getByLabel('Your name').fill(second);
  await page.getByRole('button', { name: 'Register' }).click();
  await expectConnected(page, second);
  expect(system.server.clientsNamed(second)).toHaveLength(1);
});
