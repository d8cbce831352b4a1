/**
 * The CLI's resume state and pins under damage and sharing: a damaged v4-uploads.json is
 * moved aside and said (it was replaced by `[]` without a word, losing the other files'
 * resumes); an entry of another shape is kept and not used (bad hex ended the run with a
 * stack trace, every run again); two runs of one folder changing the file at once both keep
 * their entries (the last write won); a stale lock of a run that died is taken over; a pin
 * added to known_servers keeps its other lines (comments were dropped), and pins two runs
 * add at once are all kept (the last write won).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSigningKey } from '../lib/v4/keys';
import { type KeptUpload, KeptUploads, KnownServers, V4_UPLOADS_FILE } from './v4-store';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function folder(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'sft-cli-state-'));
  dirs.push(d);
  return d;
}
const upload = (p: string, fill: number): KeptUpload => ({
  server: '127.0.0.1:1256',
  path: p,
  size: 1000,
  mtimeMs: 1,
  uploadId: new Uint8Array(16).fill(fill),
  fileKey: new Uint8Array(32).fill(fill),
});

describe('v4-uploads.json damaged', () => {
  it('a truncated file is moved aside and said, not replaced without a word', async () => {
    const dir = await folder();
    const said: string[] = [];
    const first = new KeptUploads(dir);
    await first.keep(upload('/a', 1));
    await first.keep(upload('/b', 2));
    const file = path.join(dir, V4_UPLOADS_FILE);
    const whole = await readFile(file, 'utf8');
    await writeFile(file, whole.slice(0, whole.length - 30));
    const kept = new KeptUploads(dir, (t) => said.push(t));
    expect(await kept.find('127.0.0.1:1256', '/a', 1000, 1)).toBeNull();
    await kept.keep(upload('/c', 3));
    // The damaged bytes are kept, beside the new file.
    expect(await readFile(`${file}.damaged`, 'utf8')).toBe(whole.slice(0, whole.length - 30));
    expect(said.join('\n')).toMatch(
      /v4-uploads\.json was damaged \(it is not JSON .*\): moved it to .*v4-uploads\.json\.damaged/,
    );
    expect(await kept.find('127.0.0.1:1256', '/c', 1000, 1)).not.toBeNull();
  });

  it('an entry of another shape (bad hex) is kept in the file and not used: no crash, the other entries still resume', async () => {
    const dir = await folder();
    const file = path.join(dir, V4_UPLOADS_FILE);
    const odd = {
      server: '127.0.0.1:1256',
      path: '/a',
      size: 1000,
      mtimeMs: 1,
      uploadId: 'abc',
      fileKey: 'zz',
    };
    await writeFile(file, JSON.stringify([odd]));
    const said: string[] = [];
    const kept = new KeptUploads(dir, (t) => said.push(t));
    expect(await kept.find('127.0.0.1:1256', '/a', 1000, 1)).toBeNull();
    await kept.keep(upload('/b', 2));
    expect(JSON.parse(await readFile(file, 'utf8'))).toContainEqual(odd);
    expect((await kept.find('127.0.0.1:1256', '/b', 1000, 1))?.uploadId).toEqual(new Uint8Array(16).fill(2));
    expect(said.join('\n')).toMatch(/has 1 entry this CLI cannot read: kept in the file, not used/);
  });
});

describe('v4-uploads.json shared by two runs', () => {
  it('changes at once from two runs keep every entry', async () => {
    const dir = await folder();
    // Two stores, as two processes would have: each reads, changes and writes the file.
    const a = new KeptUploads(dir);
    const b = new KeptUploads(dir);
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).keep(upload(`/f${i}`, i + 1))));
    const all = JSON.parse(await readFile(path.join(dir, V4_UPLOADS_FILE), 'utf8')) as { path: string }[];
    expect(all.map((e) => e.path).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `/f${i}`).sort());
    expect((await readdir(dir)).sort()).toEqual([V4_UPLOADS_FILE]);
  });

  it('a lock left by a run that died (its PID gone) is taken over', async () => {
    const dir = await folder();
    const dead = spawn(process.execPath, ['-e', '0']);
    const pid = dead.pid!;
    await new Promise((r) => dead.once('exit', r));
    await writeFile(path.join(dir, `${V4_UPLOADS_FILE}.lock`), `${pid}\n`);
    await new KeptUploads(dir).keep(upload('/a', 1));
    expect(await new KeptUploads(dir).find('127.0.0.1:1256', '/a', 1000, 1)).not.toBeNull();
  });
});

describe('known_servers', () => {
  it('pinning a new server keeps the lines already there (comments too)', async () => {
    const dir = await folder();
    const file = path.join(dir, 'known_servers');
    await writeFile(file, '# work servers\n10.0.0.1:1256 SHA256:abc\nnot a line we know\n');
    const key = await generateSigningKey(true);
    expect(await new KnownServers(dir).check('127.0.0.1:1256', key.publicRaw)).toBe('pinned');
    const text = await readFile(file, 'utf8');
    expect(text).toMatch(
      /^# work servers\n10\.0\.0\.1:1256 SHA256:abc\nnot a line we know\n127\.0\.0\.1:1256 SHA256:\S+\n$/,
    );
    expect(await new KnownServers(dir).check('127.0.0.1:1256', key.publicRaw)).toBe('known');
  });

  it('pins made at once by two runs (six new servers each) are all kept', async () => {
    const dir = await folder();
    const a = new KnownServers(dir);
    const b = new KnownServers(dir);
    const keys = await Promise.all(Array.from({ length: 12 }, () => generateSigningKey(true)));
    // Before: each read the file, added its line and wrote the whole: 1 or 2 of 12 were kept,
    // and each lost pin was a first use again on the next run (trusted whatever answered).
    await Promise.all(keys.map((k, i) => (i % 2 ? a : b).check(`10.0.0.${i}:1256`, k.publicRaw)));
    const lines = (await readFile(path.join(dir, 'known_servers'), 'utf8')).trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0]).sort()).toEqual(keys.map((_, i) => `10.0.0.${i}:1256`).sort());
    for (const [i, k] of keys.entries())
      expect(await new KnownServers(dir).check(`10.0.0.${i}:1256`, k.publicRaw)).toBe('known');
    expect((await readdir(dir)).sort()).toEqual(['known_servers']);
  });
});
