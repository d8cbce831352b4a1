/**
 * What any FileStorage (server/file-storage.ts) must do: run this suite with a factory for
 * each implementation (the local folder now, an S3-compatible store later). `open()` gives
 * a fresh, empty storage; `read(pathName)` reads a stored file back through the back end
 * itself (not through the interface), or null when there is none.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileStorage, TempFile } from '../../server/file-storage';

export interface FileStorageFactory {
  open(): Promise<FileStorage>;
  read(pathName: string): Promise<Uint8Array | null>;
  /** Temp files present in the back end (left-overs of uploads). */
  temps(): Promise<number>;
  cleanup?(): Promise<void> | void;
}

const text = (s: string) => new TextEncoder().encode(s);
const asText = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

async function written(storage: FileStorage, ...parts: string[]): Promise<TempFile> {
  const t = storage.createTemp();
  for (const p of parts) {
    t.write(text(p));
    if (t.needsDrain) await t.drained();
  }
  await t.finish();
  return t;
}

export function fileStorageContract(name: string, factory: FileStorageFactory): void {
  describe(`FileStorage contract: ${name}`, () => {
    let storage: FileStorage;
    beforeEach(async () => {
      storage = await factory.open();
      expect(await storage.init()).toBe(0);
    });
    afterEach(() => factory.cleanup?.());

    it('a temp file written in chunks, committed: stored under its path, the temp gone', async () => {
      const t = await written(storage, 'hello ', 'world');
      expect(await storage.exists('ab/x.txt')).toBe(false);
      // What a crash recovery asks (FileStore.recover): still a temp file, or moved.
      expect(await storage.hasTemp(t.path)).toBe(true);
      await storage.commit(t, 'ab/x.txt');
      expect(await storage.hasTemp(t.path)).toBe(false);
      expect(asText(await factory.read('ab/x.txt'))).toBe('hello world');
      expect(await storage.exists('ab/x.txt')).toBe(true);
      expect(await factory.temps()).toBe(0);
    });

    it('a commit replaces what is stored under the path', async () => {
      await storage.commit(await written(storage, 'one'), 'ab/x.txt');
      await storage.commit(await written(storage, 'two'), 'ab/x.txt');
      expect(asText(await factory.read('ab/x.txt'))).toBe('two');
    });

    it('keep, then a replacement: restore puts the kept bytes back; dropKept leaves the new ones', async () => {
      await storage.commit(await written(storage, 'one'), 'ab/x.txt');
      expect(await storage.keep('ab/never')).toBeNull();
      const kept = (await storage.keep('ab/x.txt'))!;
      // A stored file keeps its name while kept (what the replaced row points at).
      expect(asText(await factory.read('ab/x.txt'))).toBe('one');
      expect(await storage.hasTemp(kept)).toBe(true);
      await storage.commit(await written(storage, 'two'), 'ab/x.txt');
      await storage.restore(kept, 'ab/x.txt');
      expect(asText(await factory.read('ab/x.txt'))).toBe('one');
      // Used up by the restore (FileStore.recover reads that as "put back").
      expect(await storage.hasTemp(kept)).toBe(false);
      const again = (await storage.keep('ab/x.txt'))!;
      await storage.commit(await written(storage, 'three'), 'ab/x.txt');
      await storage.dropKept(again);
      await storage.dropKept(again);
      expect(asText(await factory.read('ab/x.txt'))).toBe('three');
      expect(await factory.temps()).toBe(0);
    });

    it('init() sweeps a kept file a crash left, the stored file untouched', async () => {
      await storage.commit(await written(storage, 'one'), 'ab/x.txt');
      await storage.keep('ab/x.txt');
      expect(await factory.temps()).toBe(1);
      expect(await (await factory.open()).init()).toBe(1);
      expect(await factory.temps()).toBe(0);
      expect(asText(await factory.read('ab/x.txt'))).toBe('one');
    });

    it('an aborted temp file leaves nothing behind, before or after finish()', async () => {
      const t = storage.createTemp();
      t.write(text('partial'));
      await t.abort();
      const done = await written(storage, 'complete');
      await done.abort();
      expect(await factory.temps()).toBe(0);
      expect(t.error).toBeNull();
    });

    it('remove: gone afterwards; removing what is missing is fine', async () => {
      await storage.commit(await written(storage, 'x'), 'ab/y');
      await storage.remove('ab/y');
      expect(await storage.exists('ab/y')).toBe(false);
      expect(await factory.read('ab/y')).toBeNull();
      await storage.remove('ab/never');
    });

    it('init() removes temp files a crash left behind and says how many', async () => {
      storage.createTemp().write(text('left over'));
      const other = storage.createTemp();
      other.write(text('also'));
      await new Promise((r) => setTimeout(r, 50));
      const again = await factory.open();
      expect(await again.init()).toBeGreaterThanOrEqual(1);
      expect(await factory.temps()).toBe(0);
      await other.abort();
    });

    it('refuses paths outside its root', async () => {
      const t = await written(storage, 'x');
      await expect(storage.commit(t, '../outside')).rejects.toMatchObject({ code: 'SERVER_ERR_STORAGE' });
      await expect(storage.remove('../../etc/passwd')).rejects.toMatchObject({ code: 'SERVER_ERR_STORAGE' });
      await t.abort();
    });
  });
}
