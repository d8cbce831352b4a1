/**
 * The lines the protocol v4 page specs (v4-upload, v4-resume) open and close with: a new
 * sender on the page, and a file checked as stored by v4 (verified, byte-identical).
 */
import type { Page } from '@playwright/test';
import { expect, registerAndDismissOffer, sha256File, uniqueName, v4StoredFile } from '../fixtures';
import type { System } from './system';

/**
 * Opens the page (with `search`, e.g. `?protocol=3`), registers a new sender named
 * `prefix-<random>` and declines saving the identity file; the name.
 */
export async function newSender(page: Page, system: System, prefix: string, search = ''): Promise<string> {
  const name = uniqueName(prefix);
  await page.goto(search === '' ? system.webUrl : `${system.webUrl}/${search}`);
  await registerAndDismissOffer(page, name);
  return name;
}

/** `name`'s v4 file `fileName` is stored, verified, with the SHA-256 `sha256` on disk; its row. */
export async function expectStoredV4(system: System, name: string, fileName: string, sha256: string) {
  const stored = v4StoredFile(system, name, fileName);
  expect(stored?.Verified).toBe(1);
  expect(await sha256File(system.server.storedPath(stored!))).toBe(sha256);
  return stored!;
}
