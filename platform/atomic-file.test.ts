import {
  chmod,
  mkdir,
  mkdtemp,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { removeStaleTemps, syncFolder, tempPathFor, writeFileAtomically } from './atomic-file';

// rename passes through to the real one unless a test makes it fail.
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  return { ...real, rename: vi.fn(real.rename) };
});

let dir: string;
let umask: number;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sft-atomic-'));
  umask = process.umask();
});
afterEach(async () => {
  process.umask(umask);
  await rm(dir, { recursive: true, force: true });
});

/** Counts the fsyncs made through FileHandle.sync while `run` runs. */
async function countSyncs(run: () => Promise<void>): Promise<number> {
  const probe = await open(join(dir, '.probe'), 'w');
  const proto = Object.getPrototypeOf(probe) as { sync: () => Promise<void> };
  await probe.close();
  await rm(join(dir, '.probe'));
  const spy = vi.spyOn(proto, 'sync');
  try {
    await run();
    return spy.mock.calls.length;
  } finally {
    spy.mockRestore();
  }
}

describe('writeFileAtomically', () => {
  it('replaces the old content; no temp file is left', async () => {
    const file = join(dir, 'state.json');
    await writeFile(file, 'old, and longer than the new');
    await writeFileAtomically(file, 'new', { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('new');
    await writeFileAtomically(file, new Uint8Array([0x62, 0x79, 0x74, 0x65, 0x73]), { mode: 0o600 });
    expect(await readFile(file, 'utf8')).toBe('bytes');
    expect(await readdir(dir)).toEqual(['state.json']);
  });

  it('gives the new file the mode asked for, also under umask 0', async () => {
    process.umask(0);
    const file = join(dir, 'priv.key');
    await writeFileAtomically(file, 'secret', { mode: 0o600 });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    // The file replaced had another mode: the new one has the mode asked for.
    const wasOpen = join(dir, 'was-open');
    await writeFile(wasOpen, 'old', { mode: 0o644 });
    await writeFileAtomically(wasOpen, 'new', { mode: 0o600 });
    expect((await stat(wasOpen)).mode & 0o777).toBe(0o600);
  });

  it('a failed rename removes the temp file, keeps the old file and throws the error as it was', async () => {
    const file = join(dir, 'me.info');
    await writeFile(file, 'old');
    const injected = Object.assign(new Error('EIO: i/o error, rename'), { code: 'EIO' });
    vi.mocked(rename).mockRejectedValueOnce(injected);
    await expect(writeFileAtomically(file, 'new', { mode: 0o600 })).rejects.toBe(injected);
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['me.info']);
  });

  it('a folder at the target path: EISDIR, no temp file left, the folder untouched', async () => {
    const target = join(dir, 'a-folder');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'kept');
    const e = await writeFileAtomically(target, 'new', { mode: 0o600 }).catch((x: unknown) => x);
    expect((e as NodeJS.ErrnoException).code).toMatch(/^(EISDIR|ENOTEMPTY|EEXIST)$/);
    expect(await readdir(dir)).toEqual(['a-folder']);
    expect(await readFile(join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('a missing folder: ENOENT, nothing created', async () => {
    const e = await writeFileAtomically(join(dir, 'gone', 'f'), 'x', { mode: 0o600 }).catch(
      (x: unknown) => x,
    );
    expect((e as NodeJS.ErrnoException).code).toBe('ENOENT');
    expect(await readdir(dir)).toEqual([]);
  });

  it.skipIf(process.getuid?.() === 0)(
    'a read-only folder: the old file intact, no temp file (not as root: it may write anyway)',
    async () => {
      const file = join(dir, 'f');
      await writeFile(file, 'old');
      await chmod(dir, 0o500);
      try {
        const e = await writeFileAtomically(file, 'new', { mode: 0o600 }).catch((x: unknown) => x);
        expect((e as NodeJS.ErrnoException).code).toBe('EACCES');
      } finally {
        await chmod(dir, 0o700);
      }
      expect(await readFile(file, 'utf8')).toBe('old');
      expect(await readdir(dir)).toEqual(['f']);
    },
  );

  it('durable: fsyncs the file and the folder; durable false: neither, and still replaces the file', async () => {
    const file = join(dir, 'state.json');
    await writeFile(file, 'old');
    expect(await countSyncs(() => writeFileAtomically(file, 'durable', { mode: 0o600 }))).toBe(2);
    expect(await readFile(file, 'utf8')).toBe('durable');
    expect(await countSyncs(() => writeFileAtomically(file, 'not', { mode: 0o600, durable: false }))).toBe(0);
    expect(await readFile(file, 'utf8')).toBe('not');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['state.json']);
  });
});

describe('syncFolder', () => {
  it('syncs a folder; a missing one is no error', async () => {
    expect(await countSyncs(() => syncFolder(dir))).toBe(1);
    await expect(syncFolder(join(dir, 'missing'))).resolves.toBeUndefined();
  });
});

describe('removeStaleTemps', () => {
  /** A file named `name` in `dir`, last written `ageMs` ago. */
  async function left(name: string, ageMs: number): Promise<void> {
    await writeFile(join(dir, name), 'secret');
    const t = (Date.now() - ageMs) / 1000;
    await utimes(join(dir, name), t, t);
  }

  it('removes the temp files of the named files older than a minute; a fresh one, another name, another pattern stay', async () => {
    await writeFile(join(dir, 'v4.key'), 'the key');
    await left('v4.key.4242.0123abcd.tmp', 120_000); // a write killed two minutes ago
    await left('v4.key.4243.89abcdef.tmp', 1_000); // a write in progress in another run
    await left('notes.txt.4242.0123abcd.tmp', 120_000); // not a file of ours
    await left('v4.key.tmp', 120_000); // not tempPathFor's naming
    await left('v4.key.4242.0123ABCD.tmp', 120_000);
    await left('v4.key.x.0123abcd.tmp', 120_000);
    await mkdir(join(dir, 'v4.key.4242.fedcba98.tmp'));
    const past = Date.now() - 120_000;
    await utimes(join(dir, 'v4.key.4242.fedcba98.tmp'), past / 1000, past / 1000);
    expect(await removeStaleTemps(dir, ['v4.key', 'known_servers'])).toEqual(['v4.key.4242.0123abcd.tmp']);
    expect((await readdir(dir)).sort()).toEqual(
      [
        'notes.txt.4242.0123abcd.tmp',
        'v4.key',
        'v4.key.4242.0123ABCD.tmp',
        'v4.key.4242.fedcba98.tmp',
        'v4.key.4243.89abcdef.tmp',
        'v4.key.tmp',
        'v4.key.x.0123abcd.tmp',
      ].sort(),
    );
  });

  it('knows the names writeFileAtomically gives its temp files', async () => {
    const file = join(dir, 'known_servers');
    const tmp = tempPathFor(file);
    await left(tmp.slice(dir.length + 1), 120_000);
    expect(await removeStaleTemps(dir, ['known_servers'])).toEqual([tmp.slice(dir.length + 1)]);
    // A folder that is not there: nothing to remove, no error.
    expect(await removeStaleTemps(join(dir, 'missing'), ['known_servers'])).toEqual([]);
  });

  it('a temp file writeFileAtomically left when killed mid-write is removed by the next run', async () => {
    const file = join(dir, 'v4-uploads.json');
    // Killed between the temp file's write and its rename: the rename never happens.
    vi.mocked(rename).mockImplementationOnce(() => new Promise<never>(() => {}));
    void writeFileAtomically(file, '{"uploads":[]}', { mode: 0o600 });
    await new Promise((r) => setTimeout(r, 100));
    const [tmp] = await readdir(dir);
    expect(tmp).toMatch(/^v4-uploads\.json\.\d+\.[0-9a-f]{8}\.tmp$/);
    expect(await removeStaleTemps(dir, ['v4-uploads.json'])).toEqual([]); // fresh: kept
    expect(await removeStaleTemps(dir, ['v4-uploads.json'], { now: Date.now() + 61_000 })).toEqual([tmp]);
    expect(await readdir(dir)).toEqual([]);
  });
});
