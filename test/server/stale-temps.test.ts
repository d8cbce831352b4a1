/**
 * The key files of the data folder are written as a temp file linked into place
 * (invite-keys.ts, v4/server-key.ts); a kill -9 between the two left the temp file, the
 * private key in it, for good. The next start, or the next `invite create` (which may be the
 * first to make the keys), removes those older than a minute, and never a fresh one, which
 * may be the other's write in progress.
 */
import { mkdirSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runAdminCommand } from '../../server/admin-command';
import { type InProcessServer, startServer, tempDir } from '../support/server-helpers';

let srv: InProcessServer | null = null;
const dirs: { remove(): void }[] = [];
afterEach(async () => {
  await srv?.stop();
  srv = null;
  for (const d of dirs.splice(0)) d.remove();
});

function left(dir: string, name: string, ageMs: number): void {
  writeFileSync(join(dir, name), 'MC4CAQAwBQYDK2VwBCIEI...', { mode: 0o600 });
  const t = (Date.now() - ageMs) / 1000;
  utimesSync(join(dir, name), t, t);
}

describe('temp files a killed write left in the data folder', () => {
  it('are removed at the next start when older than a minute; a fresh one stays', async () => {
    const d = tempDir('sft-stale-temps-');
    dirs.push(d);
    mkdirSync(d.path, { recursive: true });
    left(d.path, 'invite.key.4242.0123abcd.tmp', 120_000);
    left(d.path, 'server.key.4242.89abcdef.tmp', 120_000);
    left(d.path, 'invite.key.4243.fedcba98.tmp', 1_000);
    left(d.path, 'notes.txt.4242.0123abcd.tmp', 120_000);
    srv = await startServer({}, d.path);
    const names = readdirSync(d.path);
    expect(names.filter((n) => n.endsWith('.tmp')).sort()).toEqual([
      'invite.key.4243.fedcba98.tmp',
      'notes.txt.4242.0123abcd.tmp',
    ]);
    expect(names).toContain('invite.key');
    expect(srv.log.lines.find((e) => e.event === 'temp-files-removed')).toMatchObject({
      count: 2,
      files: expect.arrayContaining(['invite.key.4242.0123abcd.tmp', 'server.key.4242.89abcdef.tmp']),
    });
  });

  it('are removed by invite create too, with no server started', async () => {
    const d = tempDir('sft-stale-temps-invite-');
    dirs.push(d);
    mkdirSync(d.path, { recursive: true });
    left(d.path, 'invite.key.4242.0123abcd.tmp', 120_000);
    left(d.path, 'server.key.4242.89abcdef.tmp', 120_000);
    left(d.path, 'server.key.4243.fedcba98.tmp', 1_000);
    const out = await runAdminCommand(['invite', 'create', '--label', 'Dana', '--data', d.path], {
      tty: true,
    });
    expect(out).toContain('/#invite=');
    const names = readdirSync(d.path);
    expect(names.filter((n) => n.endsWith('.tmp'))).toEqual(['server.key.4243.fedcba98.tmp']);
    expect(names).toEqual(expect.arrayContaining(['invite.key', 'invite.pub', 'server.key', 'server.pub']));
  });
});
