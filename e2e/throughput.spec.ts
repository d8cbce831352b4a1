import { chooseFiles, expect, makeFile, register, test, uniqueName, uploadItem } from './fixtures';

/** Not a timing assertion: records the upload rate as an annotation, and checks the bytes arrived. */
test('throughput: a 100 MiB upload, rate recorded in the report', async ({ page, system }, testInfo) => {
  const size = 100 * 1024 * 1024;
  const f = makeFile(testInfo, 'hundred-mib.bin', size);
  await page.goto(system.webUrl);
  await register(page, uniqueName('perf'));
  await page.getByRole('button', { name: 'Not now' }).click();
  const started = Date.now();
  await chooseFiles(page, [f.path]);
  await expect(uploadItem(page, 'hundred-mib.bin')).toHaveAttribute('data-phase', 'verified', {
    timeout: 110_000,
  });
  const seconds = (Date.now() - started) / 1000;
  const rate = `${(size / 1024 / 1024 / seconds).toFixed(1)} MiB/s (${seconds.toFixed(1)} s for 100 MiB)`;
  testInfo.annotations.push({ type: 'throughput', description: rate });
  console.log(`browser upload through bridge: ${rate}`);
});
