/**
 * Damaged or incomplete state in data/partial/ after a crash or a disk fault: a state file
 * that cannot be parsed is kept (with its data) until the TTL and reported, not deleted at
 * the next start without a word; a state file whose data file is gone (kill -9 between the
 * move of a finished upload into files/ and the removal of its state) counts no bytes
 * against quotas; a data file left without its state file is removed after the TTL.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_SIZE } from '../../lib/protocol/v4/constants';
import { tempDir } from '../../test/support/server-helpers';
import { type PartialUpload, PartialUploads } from './partial-uploads';

const TTL = 3_600_000;
const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});
const bytes = (n: number) => new Uint8Array(randomBytes(n));

/** A data folder holding one kept upload of 20 durable records; returns its file base name. */
async function keptUpload(data: string): Promise<string> {
  const p = new PartialUploads(data, TTL);
  await p.init();
  const up = (await p.open({
    clientKey: bytes(32),
    clientId: bytes(16),
    uploadId: bytes(16),
    fileKey: bytes(32),
    size: 40 * RECORD_SIZE,
    name: 'f.bin',
    resume: false,
  })) as PartialUpload;
  await up.appendRecords(Array.from({ length: 16 }, () => new Uint8Array(RECORD_SIZE).fill(7)));
  await up.appendRecords(Array.from({ length: 4 }, () => new Uint8Array(RECORD_SIZE).fill(8)));
  await up.detach();
  expect(p.keptBytes()).toBe(20 * RECORD_SIZE);
  return readdirSync(p.dir)
    .find((n) => n.endsWith('.json'))!
    .slice(0, -5);
}

function folder(): string {
  const d = tempDir('sft-partial-damage-');
  dirs.push(d);
  return d.path;
}

describe('PartialUploads: damaged state after a crash', () => {
  for (const [what, damage] of [
    ['truncated', (t: string) => t.slice(0, 20)],
    ['garbage', () => '\u0000\u0000\u0000garbage'],
    ['wrong-shaped', () => '{"v":1}'],
  ] as const) {
    it(`a ${what} state file: its part is kept until the TTL and reported, then removed`, async () => {
      const data = folder();
      const base = await keptUpload(data);
      const dir = join(data, 'partial');
      const state = join(dir, `${base}.json`);
      writeFileSync(state, damage(readFileSync(state, 'utf8')));
      const p = new PartialUploads(data, TTL);
      const started = await p.init();
      expect(existsSync(join(dir, `${base}.data`)), 'the part is still there').toBe(true);
      expect(readFileSync(join(dir, `${base}.data`)).length).toBe(20 * RECORD_SIZE);
      expect(existsSync(state)).toBe(true);
      expect(started?.damaged).toEqual([`${base}.json`]);
      // A sweep within the TTL keeps it too; one after the TTL (counted from the file's last write) removes both.
      expect(await p.sweep()).toBe(0);
      expect(existsSync(join(dir, `${base}.data`))).toBe(true);
      expect(await p.sweep(Date.now() + TTL + 60_000)).toBe(1);
      expect(readdirSync(dir).filter((n) => !n.endsWith('.expired'))).toEqual([]);
    });
  }

  it('a state file whose data file is gone counts no bytes after a restart (the quota matches the disk)', async () => {
    const data = folder();
    const base = await keptUpload(data);
    rmSync(join(data, 'partial', `${base}.data`));
    const p = new PartialUploads(data, TTL);
    await p.init();
    expect(p.keptBytes()).toBe(0);
    expect(p.keptCount(readStateClient(data, base))).toBe(1);
  });

  it('a data file cut short counts only the whole records it holds', async () => {
    const data = folder();
    const base = await keptUpload(data);
    const file = join(data, 'partial', `${base}.data`);
    writeFileSync(file, readFileSync(file).subarray(0, 5 * RECORD_SIZE + 100));
    const p = new PartialUploads(data, TTL);
    await p.init();
    expect(p.keptBytes()).toBe(5 * RECORD_SIZE);
  });

  it('a data file without its state file is removed after the TTL, not kept for ever', async () => {
    const data = folder();
    const base = await keptUpload(data);
    const dir = join(data, 'partial');
    rmSync(join(dir, `${base}.json`));
    const p = new PartialUploads(data, TTL);
    await p.init();
    // Young: left alone (it may be a moment of an upload's own removal).
    expect(existsSync(join(dir, `${base}.data`))).toBe(true);
    const old = (Date.now() - TTL - 60_000) / 1000;
    utimesSync(join(dir, `${base}.data`), old, old);
    await p.sweep();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("the periodic sweep leaves a state write's fresh temp file alone; the first sweep and a stale one remove it", async () => {
    const data = folder();
    const base = await keptUpload(data);
    const dir = join(data, 'partial');
    const left = join(dir, `${base}.json.0badcafe.tmp`);
    writeFileSync(left, '{"v":1');
    const p = new PartialUploads(data, TTL);
    await p.init();
    // At start no write is in progress: a temp file is a crash's.
    expect(existsSync(left)).toBe(false);
    // Later, one being written (its rename a moment away) stays: removing it made that
    // write's rename fail (ENOENT) and ended its upload.
    const writing = join(dir, `${base}.json.0ddba11.tmp`);
    writeFileSync(writing, '{"v":1');
    await p.sweep();
    expect(existsSync(writing)).toBe(true);
    const old = (Date.now() - 120_000) / 1000;
    utimesSync(writing, old, old);
    await p.sweep();
    expect(existsSync(writing)).toBe(false);
    expect(existsSync(join(dir, `${base}.json`))).toBe(true);
  });
});

function readStateClient(data: string, base: string): string {
  return (JSON.parse(readFileSync(join(data, 'partial', `${base}.json`), 'utf8')) as { clientId: string })
    .clientId;
}
