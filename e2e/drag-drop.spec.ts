import { createHash } from 'node:crypto';
import {
  expect,
  registerAndDismissOffer,
  senderOf,
  sha256File,
  test,
  uniqueName,
  uploadItem,
} from './fixtures';

test('drag and drop: files dropped on the drop zone are queued and sent in order', async ({
  page,
  system,
}) => {
  const name = uniqueName('mallory');
  await page.goto(system.webUrl);
  await registerAndDismissOffer(page, name);

  // Two files made in the page and dropped as a person would drop them from a file manager.
  const contents = {
    'dropped-a.txt': 'first dropped file\n'.repeat(500),
    'dropped-b.txt': 'second one\n'.repeat(9000),
  };
  const dataTransfer = await page.evaluateHandle((files) => {
    const dt = new DataTransfer();
    for (const [n, text] of Object.entries(files)) dt.items.add(new File([text], n, { type: 'text/plain' }));
    return dt;
  }, contents);
  const zone = page.getByTestId('dropzone');
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });

  for (const fileName of Object.keys(contents)) {
    await expect(uploadItem(page, fileName)).toHaveAttribute('data-phase', 'verified');
  }
  // The queue keeps the drop order.
  await expect(page.getByTestId('upload-item')).toHaveText([/dropped-a\.txt/, /dropped-b\.txt/]);

  const client = senderOf(system, name);
  for (const [fileName, text] of Object.entries(contents)) {
    const row = system.server.file(client!.ID, fileName);
    expect(row?.Verified).toBe(1);
    expect(await sha256File(system.server.storedPath(row!))).toBe(
      createHash('sha256').update(text).digest('hex'),
    );
  }
});
