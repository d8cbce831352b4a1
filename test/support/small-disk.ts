/**
 * A data folder on a small tmpfs, for tests of what a (nearly) full disk does: mounted when
 * this process may (root), else on the real file system, where the test derives its limits
 * from `free()`. Unmounted and removed after the test file's tests.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { tempDir, tryMountTmpfs } from './server-helpers';

export interface SmallDisk {
  /** The temporary folder around `data` (for the test's own files, off the small disk). */
  work: string;
  /** The server's data folder: the tmpfs when `mounted`. */
  data: string;
  mounted: boolean;
  /** Bytes free for an unprivileged writer on `data`'s file system now. */
  free(): number;
}

/** Call at the top of a test file; `label` names the file in the warning when it cannot mount. */
export function smallDataDisk(prefix: string, size: string, label: string): SmallDisk {
  const work = tempDir(prefix);
  const data = join(work.path, 'data');
  mkdirSync(data);
  const mounted = tryMountTmpfs(data, size);
  if (!mounted) console.warn(`${label}: cannot mount a tmpfs here; using the real file system.`);
  afterAll(() => {
    if (mounted) execFileSync('umount', ['-l', data]);
    work.remove();
  });
  const free = () => {
    const s = statfsSync(data);
    return s.bavail * s.bsize;
  };
  return { work: work.path, data, mounted, free };
}
