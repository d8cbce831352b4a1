/**
 * For tests of real file-server processes (crash, kill and store-timing tests): the folders
 * and servers a test makes are removed and killed (SIGKILL) after it, and one v4 identity
 * serves the file's tests.
 */
import { afterEach, beforeAll } from 'vitest';
import type { KeyPairWithRaw } from '../../lib/v4/keys';
import { type SpawnedServer, type SpawnOptions, spawnServer, tempDir } from './server-helpers';
import { newIdentity } from './v4-client';

export interface RealServers {
  /** A fresh temp folder, removed after the test. */
  folder(prefix: string): { path: string; remove(): void };
  /** spawnServer, killed after the test unless it has exited. */
  spawn(args: string[], cwd: string, opts?: SpawnOptions): Promise<SpawnedServer>;
  /** The file's v4 identity (made once, before its first test). */
  me(): KeyPairWithRaw;
}

export function realServers(): RealServers {
  const servers: SpawnedServer[] = [];
  const folders: Array<{ remove(): void }> = [];
  let identity: KeyPairWithRaw | null = null;
  beforeAll(async () => {
    identity = await newIdentity();
  });
  afterEach(async () => {
    // Not one that has exited (killed by the test, or by itself): its PID may be another's now.
    for (const s of servers.splice(0))
      if (s.proc.exitCode === null && s.proc.signalCode === null) await s.stop('SIGKILL');
    for (const f of folders.splice(0)) f.remove();
  });
  return {
    folder(prefix) {
      const f = tempDir(prefix);
      folders.push(f);
      return f;
    },
    async spawn(args, cwd, opts) {
      const s = await spawnServer(args, cwd, opts);
      servers.push(s);
      return s;
    },
    me() {
      if (!identity) throw new Error('realServers().me() before the first test');
      return identity;
    },
  };
}
