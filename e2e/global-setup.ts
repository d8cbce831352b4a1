/**
 * Builds the production web app before the tests when the build is missing or older than
 * its sources (the tests run `next start`, never `next dev`). SFT_E2E_SKIP_BUILD=1 skips.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { webBuildIsFresh } from '../scripts/web-build';
import { bin, ROOT } from '../test/support/processes';

export default function globalSetup(): void {
  if (!existsSync('/usr/bin/chromium')) {
    throw new Error('Chromium is missing: install it with `apt-get install -y chromium` (see README).');
  }
  if (process.env.SFT_E2E_SKIP_BUILD === '1') return;
  if (webBuildIsFresh(ROOT)) return;
  console.log('e2e: building the web app (next build)...');
  const r = spawnSync(bin('next'), ['build'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (r.status !== 0) throw new Error('next build failed; see the output above.');
}
