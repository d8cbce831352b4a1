import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalFileStorage } from '../../server/local-storage';
import { fileStorageContract } from './file-storage.contract';

let dir = '';
fileStorageContract('local folder', {
  async open() {
    dir ||= mkdtempSync(join(tmpdir(), 'sft-storage-contract-'));
    return new LocalFileStorage(dir);
  },
  async read(pathName) {
    try {
      return readFileSync(join(dir, 'files', pathName));
    } catch {
      return null;
    }
  },
  async temps() {
    return readdirSync(join(dir, 'tmp')).length;
  },
  cleanup() {
    rmSync(dir, { recursive: true, force: true });
    dir = '';
  },
});
