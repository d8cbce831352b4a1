import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formatMeInfo, formatPrivKey } from '../lib/crypto';
import { CliError } from './errors';
import { ensureIdentityDir, readIdentity, readTransferInfo, writeIdentity } from './identity-store';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sft-id-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const identity = {
  name: 'alice',
  clientId: new Uint8Array(16).map((_, i) => i * 7),
  privateKeyPkcs8: new Uint8Array(600).map((_, i) => (i === 0 ? 0x30 : i % 251)),
};

describe('identity store', () => {
  it('writes me.info and priv.key in the reference format, mode 0600, no temp files left', async () => {
    await writeIdentity(dir, identity);
    expect(await readFile(path.join(dir, 'me.info'), 'utf8')).toBe(formatMeInfo(identity));
    expect(await readFile(path.join(dir, 'priv.key'), 'utf8')).toBe(formatPrivKey(identity.privateKeyPkcs8));
    expect((await stat(path.join(dir, 'me.info'))).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).sort()).toEqual(['me.info', 'priv.key']);
    expect(await readIdentity(dir)).toEqual(identity);
  });

  it('replaces an existing me.info', async () => {
    await writeFile(path.join(dir, 'me.info'), 'old');
    await writeIdentity(dir, identity);
    expect(await readIdentity(dir)).toEqual(identity);
  });

  it('reads a two-line me.info with the key in priv.key', async () => {
    const [l1, l2] = formatMeInfo(identity).split('\n');
    await writeFile(path.join(dir, 'me.info'), `${l1}\r\n${l2}\r\n`);
    await writeFile(path.join(dir, 'priv.key'), formatPrivKey(identity.privateKeyPkcs8));
    expect(await readIdentity(dir)).toEqual(identity);
  });

  it('no me.info is null; a bad one is CLI_ERR_CONFIG naming the file', async () => {
    expect(await readIdentity(dir)).toBeNull();
    await writeFile(path.join(dir, 'me.info'), 'alice\nxyz\n');
    const e = await readIdentity(dir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe('CLI_ERR_CONFIG');
    expect((e as CliError).message).toContain('me.info');
  });

  it('reads transfer.info; two lines are enough when files come from the command line', async () => {
    expect(await readTransferInfo(dir, { filesGiven: false })).toBeNull();
    await writeFile(path.join(dir, 'transfer.info'), '127.0.0.1:1234\nbob\n');
    expect(await readTransferInfo(dir, { filesGiven: true })).toEqual({
      host: '127.0.0.1',
      port: 1234,
      name: 'bob',
    });
    const e = await readTransferInfo(dir, { filesGiven: false }).catch((x: unknown) => x);
    expect((e as CliError).code).toBe('CLI_ERR_CONFIG');
    await writeFile(path.join(dir, 'transfer.info'), 'localhost:1256\nbob\nsome file.bin\n');
    expect(await readTransferInfo(dir, { filesGiven: false })).toEqual({
      host: 'localhost',
      port: 1256,
      name: 'bob',
      filePath: 'some file.bin',
    });
  });

  it('ensureIdentityDir creates a new --dir (and the folders on the way) 0700 whatever the umask', async () => {
    const umask = process.umask(0);
    try {
      const made = path.join(dir, 'not', 'yet');
      await ensureIdentityDir(made);
      expect((await stat(made)).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(dir, 'not'))).mode & 0o777).toBe(0o700);
      expect(await readdir(made)).toEqual([]);
      // A relative path with a trailing slash is made the same way.
      process.umask(0o277);
      await ensureIdentityDir(`${path.relative(process.cwd(), path.join(dir, 'rel'))}/`);
      expect((await stat(path.join(dir, 'rel'))).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(umask);
    }
  });

  it('ensureIdentityDir leaves the mode of a folder that exists (the cwd, a shared parent)', async () => {
    await chmod(dir, 0o755);
    await mkdir(path.join(dir, 'shared'), { mode: 0o755 });
    await chmod(path.join(dir, 'shared'), 0o755);
    await ensureIdentityDir(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
    await ensureIdentityDir(path.join(dir, 'shared', 'mine'));
    expect((await stat(path.join(dir, 'shared'))).mode & 0o777).toBe(0o755);
    expect((await stat(path.join(dir, 'shared', 'mine'))).mode & 0o777).toBe(0o700);
  });
});
