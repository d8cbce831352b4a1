/**
 * Builds the production web app before the tests when the build is missing or older than
 * its sources (the tests run `next start`, never `next dev`). SFT_E2E_SKIP_BUILD=1 skips.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { bin, ROOT } from './support/processes';

const SOURCES = ['app', 'lib', 'public', 'next.config.mjs', 'postcss.config.mjs', 'package.json'];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let max = 0;
  for (const e of readdirSync(path, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) max = Math.max(max, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return max;
}

export default function globalSetup(): void {
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: install it with `apt-get install -y chromium` (see README).');
  }
  if (process.env.SFT_E2E_SKIP_BUILD === '1') return;
  const buildId = join(ROOT, '.next', 'BUILD_ID');
  const built = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  const sources = Math.max(...SOURCES.map((s) => newest(join(ROOT, s))));
  if (built > sources) return;
  console.log('e2e: building the web app (next build)...');
  const r = spawnSync(bin('next'), ['build'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (r.status !== 0) throw new Error('next build failed; see the output above.');
}
