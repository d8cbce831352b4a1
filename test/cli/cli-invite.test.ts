/**
 * Issue 15, the CLI side, end to end with real processes on 127.0.0.1: the CLI with
 * --invite LINK through a bridge in invite mode in front of the real file server; the invite
 * is kept in invite.link (0600) and used by the next run; a refused invite (4010-4013) is a
 * sentence and exit 1; a malformed or expired link, or --invite with --protocol 3 and a TCP
 * server, is a usage error (exit 2) before any connection. (--protocol auto uses v4 through the
 * bridge; test/v4/bridge-access.test.ts has v4's side.)
 */
import { readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inviteLink } from '../../lib/invite';
import type { SpawnedBridge } from '../bridge/helpers';
import { runCli } from '../support/cli-process';
import { type InviteSystem, startInviteSystem } from '../support/invite-system';
import { makeInviteKeys, mintInvite, type TestInviteKeys } from '../support/invites';
import type { Listening } from '../support/processes';

let sys: InviteSystem;
/** Another key than the server's: its tokens are forged here. */
let keys: TestInviteKeys;
let server: Listening;
let bridge: SpawnedBridge;
let ws: string;

beforeAll(async () => {
  // The server open (a loopback TCP client needs no invite), the bridge in invite mode.
  sys = await startInviteSystem({ prefix: 'sft-cli-invite-', serverAccess: 'open' });
  ({ server, bridge } = sys);
  keys = await makeInviteKeys(sys.tmp);
  ws = bridge.url;
});
afterAll(() => sys?.stop());

const folder = async (name: string) => (await sys.folder(name)).dir;

const invitedLines = (id: string) =>
  bridge.lines.filter((l) => l.event === 'connection' && l.inviteId === id && l.closeCode === 1000);

describe('CLI --invite through the bridge', () => {
  it('uploads with a link, keeps it in invite.link (0600), and a later run uses it', async () => {
    const dir = await folder('dana');
    const { token, id } = sys.createInvite();
    // Any page URL: the CLI reads the token from the fragment.
    const link = inviteLink('https://files.example.org/', token);
    const first = await runCli(['--server', ws, '--name', 'dana', '--invite', link, 'a.bin'], dir);
    // --protocol auto: version 4 through the bridge.
    expect(first.stderr).toContain('with protocol 4 (registered this key)');
    expect(first.stdout).toMatch(/a\.bin {2}70000 bytes {2}SHA-256 [0-9a-f]{64} {2}verified/);
    expect(first.code).toBe(0);
    const kept = path.join(dir, 'invite.link');
    expect((await readFile(kept, 'utf8')).trim()).toBe(link);
    expect((await stat(kept)).mode & 0o777).toBe(0o600);
    expect(first.stderr).toContain('Kept the invite in');
    // The token is never in the bridge's log; its ID is.
    expect(bridge.output()).not.toContain(token.split('.')[2]);

    // The name is kept beside v4.key: no --name needed.
    const second = await runCli(['--server', ws, 'a.bin'], dir);
    expect(second.stderr).toContain('with protocol 4.');
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain('Kept the invite');
    await expectEventually(() => invitedLines(id).length === 2);

    // Without it, the bridge refuses: a sentence, exit 1.
    await unlink(kept);
    const third = await runCli(['--server', ws, '--name', 'dana', 'a.bin'], dir);
    expect(third.code).toBe(1);
    expect(third.stderr).toContain('You need an invite link from the owner of this server.');
    expect(third.stderr).toContain('(close 4010)');
  });

  it('a forged or (on the bridge) refused invite: a sentence, exit 1, the kept invite not replaced', async () => {
    const dir = await folder('eve');
    const good = sys.createInvite().token;
    await writeFile(path.join(dir, 'invite.link'), `${good}\n`, { mode: 0o600 });
    const forged = await mintInvite(keys.privateKey);
    const run = await runCli(['--server', ws, '--name', 'eve', '--invite', forged, 'a.bin'], dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('was not made by this server');
    expect(run.stderr).toContain('(close 4012)');
    expect((await readFile(path.join(dir, 'invite.link'), 'utf8')).trim()).toBe(good);
    // A kept invite the bridge refuses names the file it came from.
    await writeFile(path.join(dir, 'invite.link'), `${forged}\n`);
    const again = await runCli(['--server', ws, '--name', 'eve', 'a.bin'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`the invite from ${path.join(dir, 'invite.link')}`);
  });

  it('usage errors (exit 2, no connection): malformed, expired, --invite with a TCP server, an expired kept one', async () => {
    const dir = await folder('frank');
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintInvite(keys.privateKey, { iat: now - 100, exp: now - 1 });
    const good = sys.createInvite().token;
    const before = bridge.lines.filter((l) => l.event === 'connection').length;
    const cases: [string[], RegExp][] = [
      [['--server', ws, '--invite', 'https://x.example/#nothing'], /--invite is not a usable invite/],
      [['--server', ws, '--invite', 'sfi1.broken'], /--invite is not a usable invite/],
      [['--server', ws, '--invite', expired], /--invite expired at/],
      [
        ['--server', `127.0.0.1:${server.port}`, '--protocol', '3', '--invite', good],
        /protocol 3 over a direct TCP connection cannot carry an invite/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([...args, '--name', 'frank', 'a.bin'], dir);
      expect({ args, code: r.code }).toEqual({ args, code: 2 });
      expect(r.stderr).toMatch(message);
    }
    await writeFile(path.join(dir, 'invite.link'), `${expired}\n`);
    const kept = await runCli(['--server', ws, '--name', 'frank', 'a.bin'], dir);
    expect(kept.code).toBe(2);
    expect(kept.stderr).toMatch(/The invite kept in .*invite\.link expired at/);
    // A kept invite is not used (nor checked) over TCP: a loopback TCP client is served as before.
    const tcp = await runCli(['--server', `127.0.0.1:${server.port}`, '--name', 'frank', 'a.bin'], dir);
    expect(tcp.code).toBe(0);
    expect(bridge.lines.filter((l) => l.event === 'connection').length).toBe(before);
  });
});

async function expectEventually(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  expect(cond()).toBe(true);
}
