/**
 * A stored v4 upload's `.done` and the removal of its state file must survive a power cut in
 * that order, both before the store's note goes (FileStore drops it once stored() or
 * recoverStored() resolves): a kill -9 leaves the page cache, a power cut does not, so the
 * order is checked on the flushes themselves, recorded through the fs layer.
 */
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const ops = vi.hoisted(() => ({ log: [] as string[] }));

vi.mock('../../platform/atomic-file', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../platform/atomic-file')>();
  return {
    ...real,
    writeFileAtomically: async (...args: Parameters<typeof real.writeFileAtomically>) => {
      await real.writeFileAtomically(...args);
      // Durable: the temp file fsync'd before the rename, the folder after it.
      ops.log.push(`write ${kind(String(args[0]))}${args[2].durable === false ? '' : ' +sync'}`);
    },
    syncFolder: async (dir: string) => {
      await real.syncFolder(dir);
      ops.log.push('sync folder');
    },
  };
});

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const rm: typeof real.rm = async (path, opts) => {
    await real.rm(path, opts);
    ops.log.push(`rm ${kind(String(path))}`);
  };
  return { ...real, rm, default: { ...real, rm } };
});

const kind = (path: string) => {
  const name = basename(path);
  return name.endsWith('.done')
    ? '.done'
    : name.endsWith('.json')
      ? 'state'
      : name.endsWith('.data')
        ? 'data'
        : name;
};

const { RECORD_SIZE } = await import('../../lib/protocol/v4/constants');
const { tempDir } = await import('../../test/support/server-helpers');
const { PartialUploads } = await import('./partial-uploads');
type PartialUpload = import('./partial-uploads').PartialUpload;

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
const bytes = (n: number) => new Uint8Array(randomBytes(n));

async function finishedUpload() {
  const d = tempDir('sft-partials-durable-');
  dirs.push(d);
  const p = new PartialUploads(d.path, 3_600_000);
  await p.init();
  const req = {
    clientKey: bytes(32),
    clientId: bytes(16),
    uploadId: bytes(16),
    fileKey: bytes(32),
    size: RECORD_SIZE,
    name: 'f.bin',
    resume: false,
  };
  const up = (await p.open(req)) as PartialUpload;
  await up.appendRecords([bytes(RECORD_SIZE)]);
  const done = await up.finish();
  return { dataDir: d.path, p, req, up, done };
}

/** What happened after the `.done` was first written, up to the end. */
const fromDone = () => ops.log.slice(ops.log.findIndex((o) => o.startsWith('write .done')));

describe('a stored upload settles durably, in order', () => {
  it('stored(): the .done flushed, then the state file removed and the folder flushed', async () => {
    const { p, req, up } = await finishedUpload();
    ops.log = [];
    await up.stored('tok');
    // The data file was moved into files/ by the store: its rm finds nothing.
    expect(fromDone()).toEqual(['write .done +sync', 'rm data', 'rm state', 'sync folder']);
    expect(await p.open({ ...req, resume: true })).toEqual({ storedToken: 'tok' });
  });

  it('recoverStored() at start does the same', async () => {
    const { dataDir, req, done } = await finishedUpload();
    // The next start: the data file was moved and recorded, the state file still there.
    const next = new PartialUploads(dataDir, 3_600_000);
    ops.log = [];
    await next.recoverStored(done.path, 'tok');
    expect(fromDone()).toEqual(['write .done +sync', 'rm state', 'sync folder']);
    await next.init();
    expect(await next.open({ ...req, resume: true })).toEqual({ storedToken: 'tok' });
  });
});
