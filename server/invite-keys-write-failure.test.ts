/**
 * A write of invite.key that fails part-way (the disk full after the file was created, the
 * process killed mid-write) must not leave a damaged invite.key: the server refuses to start
 * on one ("unusable"), and it is never replaced by itself, so the owner was locked out of
 * starting and inviting until they found and removed it.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const failing = vi.hoisted(() => ({ on: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const writeFile: typeof real.writeFile = async (file, data, opts) => {
    if (failing.on && String(file).includes('invite.key')) {
      // Half of the text reaches the file, then the disk is full.
      await real.writeFile(file, String(data).slice(0, 20), opts);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    }
    return real.writeFile(file, data, opts);
  };
  return { ...real, writeFile, default: { ...real, writeFile } };
});

const { INVITE_KEY_FILE, loadInviteKeys } = await import('./invite-keys');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-keys-fail-'));
});
afterEach(() => {
  failing.on = false;
  rmSync(dir, { recursive: true, force: true });
});

describe('invite.key written part-way', () => {
  it('leaves no invite.key (nor a temp file): the next start makes a good pair', async () => {
    failing.on = true;
    await expect(loadInviteKeys(dir)).rejects.toThrow(/ENOSPC/);
    expect(existsSync(join(dir, INVITE_KEY_FILE))).toBe(false);
    expect(readdirSync(dir)).toEqual([]);
    failing.on = false;
    const keys = await loadInviteKeys(dir);
    expect(keys.privateKey).toBeDefined();
  });
});
