/** The build freshness check shared by npm start, the Playwright setup and the bench. */
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  newestWebSource,
  WEB_BUILD_SOURCES,
  webBuildCommand,
  webBuildIsFresh,
} from '../../scripts/web-build';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'sft-web-build-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** Writes `rel` under root with modification time `t` (seconds). */
function file(rel: string, t: number): void {
  const path = join(root, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, 'x');
  utimesSync(path, t, t);
}

describe('web build freshness', () => {
  it('no build is stale; a build newer than every source is fresh', () => {
    file('app/page.tsx', 1000);
    expect(webBuildIsFresh(root)).toBe(false);
    file('.next/BUILD_ID', 2000);
    expect(webBuildIsFresh(root)).toBe(true);
  });

  it.each([
    'app/deep/nested/x.tsx',
    'browser/upload.worker.ts',
    'proxy.ts',
    'next.config.mjs',
    'package.json',
  ])('a newer %s makes the build stale', (rel) => {
    file('app/page.tsx', 1000);
    file('.next/BUILD_ID', 2000);
    file(rel, 3000);
    expect(newestWebSource(root)).toBe(3000 * 1000);
    expect(webBuildIsFresh(root)).toBe(false);
  });

  it('files outside the sources (server, tests) do not matter', () => {
    file('app/page.tsx', 1000);
    file('.next/BUILD_ID', 2000);
    file('server/main.ts', 3000);
    file('e2e/x.spec.ts', 3000);
    expect(webBuildIsFresh(root)).toBe(true);
  });

  it('lists what next build reads, the proxy included', () => {
    expect(WEB_BUILD_SOURCES).toEqual(expect.arrayContaining(['app', 'lib', 'proxy.ts', 'next.config.mjs']));
  });
});

describe('webBuildCommand', () => {
  it('runs next build with telemetry off, even when the caller did not ask (no notice)', () => {
    const { cmd, args, options } = webBuildCommand('/repo', {
      ...process.env,
      PATH: '/usr/bin',
      NEXT_TELEMETRY_DISABLED: undefined,
    });
    expect(cmd).toBe('/repo/node_modules/.bin/next');
    expect(args).toEqual(['build']);
    expect(options.env.NEXT_TELEMETRY_DISABLED).toBe('1');
    expect(options.env.PATH).toBe('/usr/bin');
    expect(
      webBuildCommand('/repo', { ...process.env, NEXT_TELEMETRY_DISABLED: '0' }).options.env
        .NEXT_TELEMETRY_DISABLED,
    ).toBe('0');
  });
});
