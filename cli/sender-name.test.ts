import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { senderName } from './sender-name';
import { keepV4Name, readV4Name } from './v4-store';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sft-name-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const configError = (message: RegExp) =>
  expect.objectContaining({ code: 'CLI_ERR_CONFIG', message: expect.stringMatching(message) });

describe('the name a run sends as', () => {
  it('--name, else me.info, else v4.name, else transfer.info; none is an error', async () => {
    expect(await senderName(dir, 'ann', undefined, 'tina')).toBe('ann');
    expect(await senderName(dir, undefined, undefined, 'tina')).toBe('tina');
    await expect(senderName(dir, undefined, undefined, undefined)).rejects.toEqual(
      configError(/No client name given/),
    );
    await keepV4Name(dir, 'vic');
    expect(await senderName(dir, undefined, undefined, 'tina')).toBe('vic');
    expect(await senderName(dir, undefined, 'vic', 'tina')).toBe('vic');
  });

  it('a --name other than a kept one names the file; me.info and v4.name disagreeing too', async () => {
    await keepV4Name(dir, 'vic');
    await expect(senderName(dir, 'bob', undefined, undefined)).rejects.toEqual(
      configError(
        /v4\.name holds the protocol 4 identity \(v4\.key\) of "vic", not "bob"\. Use another --dir/,
      ),
    );
    await expect(senderName(dir, 'bob', 'bob', undefined)).rejects.toEqual(
      configError(/one folder holds one sender/),
    );
    await expect(senderName(dir, undefined, 'amy', undefined)).rejects.toEqual(
      configError(/me\.info is "amy" but .*v4\.name is "vic"/),
    );
  });

  it('v4.name: kept once (0600, one line, no temp file left), read trimmed; a malformed one is an error', async () => {
    expect(await keepV4Name(dir, 'Zoë')).toBe(true);
    expect(await keepV4Name(dir, 'other')).toBe(false);
    const file = path.join(dir, 'v4.name');
    expect(await readFile(file, 'utf8')).toBe('Zoë\n');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['v4.name']);
    await writeFile(file, '  Zoë \r\n');
    expect(await readV4Name(dir)).toBe('Zoë');
    await writeFile(file, 'a\u0007b\n');
    await expect(readV4Name(dir)).rejects.toEqual(configError(/v4\.name is malformed: .*control/));
    await writeFile(file, '\n');
    await expect(readV4Name(dir)).rejects.toEqual(configError(/v4\.name is malformed/));
  });
});
