/**
 * Whether the production web build (.next) is older than what it is built from. One list
 * for `npm start`, the Playwright setup and the bench, so none of them serves a stale build.
 */
import type { SpawnSyncOptions } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The environment of every `next` we run: no telemetry (nor its notice) unless asked for. */
export function nextEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, NEXT_TELEMETRY_DISABLED: env.NEXT_TELEMETRY_DISABLED || '1' };
}

/** `next build` as npm start runs it: in `root`, output shown, with nextEnv's environment. */
export function webBuildCommand(
  root: string,
  env: NodeJS.ProcessEnv,
): { cmd: string; args: string[]; options: SpawnSyncOptions & { env: NodeJS.ProcessEnv } } {
  return {
    cmd: join(root, 'node_modules', '.bin', 'next'),
    args: ['build'],
    options: { cwd: root, stdio: 'inherit', env: nextEnv(env) },
  };
}

/** Files and folders (relative to the project root) that `next build` reads. */
export const WEB_BUILD_SOURCES = [
  'app',
  'lib',
  'browser',
  'public',
  'proxy.ts',
  'next.config.mjs',
  'postcss.config.mjs',
  'package.json',
];

/** Newest modification time among WEB_BUILD_SOURCES under `root` (0 if none exists). */
export function newestWebSource(root: string): number {
  let newest = 0;
  for (const source of WEB_BUILD_SOURCES) {
    const path = join(root, source);
    if (!existsSync(path)) continue;
    const st = statSync(path);
    if (!st.isDirectory()) {
      newest = Math.max(newest, st.mtimeMs);
      continue;
    }
    for (const entry of readdirSync(path, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

/** True when `root`/.next holds a build newer than every source. */
export function webBuildIsFresh(root: string): boolean {
  const buildId = join(root, '.next', 'BUILD_ID');
  return existsSync(buildId) && statSync(buildId).mtimeMs > newestWebSource(root);
}
