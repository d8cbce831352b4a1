/**
 * Issue 15 end to end with the real processes: the server in invite mode makes a link
 * (`invite create`), the bridge checks it with the server's invite.pub only, the CLI sends
 * with `--invite` through the bridge and is bound to the invite (its files count against it),
 * the next run reuses the kept invite.link, a file past the invite's limit is refused (v3:
 * 1607 with the CLI's explanation; v4: Error 6) and a revoked invite stops the next run, with
 * protocol 3 and with 4 (auto), and a forged or expired link is
 * refused at the bridge (4012) without the server seeing a connection (a pass-through proxy
 * between bridge and server counts them).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SpawnedBridge } from '../bridge/helpers';
import { runCli } from '../support/cli-process';
import { type FlipProxy, startFlipProxy } from '../support/flip-proxy';
import { type InviteSystem, startInviteSystem } from '../support/invite-system';
import { makeInviteKeys, mintInvite } from '../support/invites';
import type { Listening } from '../support/processes';

let sys: InviteSystem;
let tmp: string;
let server: Listening;
let bridge: SpawnedBridge;
/** Between bridge and server, corrupting nothing: counts the TCP connections the bridge opens. */
let counter: FlipProxy;

beforeAll(async () => {
  sys = await startInviteSystem({
    prefix: 'sft-invite-e2e-',
    relay: async (port) => {
      counter = await startFlipProxy({ targetPort: port, flip: false });
      return counter;
    },
  });
  ({ tmp, server, bridge } = sys);
});
afterAll(() => sys?.stop());

const admin = (...args: string[]) => sys.admin(...args);

describe('an invite from invite create, through the bridge, with the CLI', () => {
  it.each([
    [
      '3',
      'Registered with',
      'Reconnected to',
      'over the space this invite allows, or the invite was revoked',
    ],
    [
      'auto',
      '(registered this key)',
      'with protocol 4.',
      'Over the space or number of files allowed. (This invite allows 2 files; one more would pass it.)',
    ],
  ] as const)(
    'protocol %s: binds the client, reuses invite.link, explains a refusal past the limit, stops after a revoke',
    async (protocol, registered, reconnected, over) => {
      const { link, token, id } = sys.createInvite('--label', 'Dana', '--max-files', '2');
      expect(link).toMatch(/#invite=sfi1\./);
      const dir = await mkdtemp(path.join(tmp, 'sender-'));
      for (const f of ['a.bin', 'b.bin', 'c.bin']) await writeFile(path.join(dir, f), randomBytes(50_000));
      const cli = (args: string[]) =>
        runCli(['--server', bridge.url, '--protocol', protocol, '--name', 'sender', ...args], dir);

      const first = await cli(['--invite', link, 'a.bin']);
      expect(first.stderr).toContain(registered);
      expect(first.code).toBe(0);
      const client = admin('clients', 'list').find((c) => JSON.stringify(c).includes(id));
      expect(String(client?.name)).toMatch(/^sender/);

      // invite.link is used; the second file fills the invite's two, the third is refused.
      const second = await cli(['b.bin', 'c.bin']);
      expect(second.stderr).toContain(reconnected);
      expect(second.stdout).toMatch(/b\.bin .* verified/);
      expect(second.stdout).toMatch(/c\.bin .* FAILED/);
      expect(second.stderr).toContain(over);
      expect(second.code).toBe(1);
      expect(admin('invite', 'list').find((i) => i.id === id)).toMatchObject({ clients: 1, files: 2 });

      admin('invite', 'revoke', id);
      const third = await cli(['a.bin']);
      expect(third.code).toBe(1);
      // The bridge cannot know of a revocation (the token still verifies): the server refuses.
      expect(third.stderr).not.toContain('(close 40');
      if (protocol === 'auto') expect(third.stderr).toContain('This invite is not valid');
      // The token's signature is in no log line (the link also carries &server=... after it).
      expect(bridge.output()).not.toContain(token.split('.')[2]);
      expect(server.output()).not.toContain(token.split('.')[2]);
    },
  );

  it('the longest label (100 characters of 3 bytes each) still fits the PROXY header', async () => {
    const { link, token } = sys.createInvite('--label', '€'.repeat(100));
    expect(token.length).toBeGreaterThan(600);
    const dir = await mkdtemp(path.join(tmp, 'euro-'));
    await writeFile(path.join(dir, 'a.bin'), randomBytes(1000));
    const run = await runCli(['--server', bridge.url, '--name', 'euro', '--invite', link, 'a.bin'], dir);
    expect(run.stdout).toMatch(/a\.bin .* verified/);
    expect(run.code).toBe(0);
  });

  it('a forged or expired link is refused at the bridge; the server sees no connection', async () => {
    const dir = await mkdtemp(path.join(tmp, 'eve-'));
    await writeFile(path.join(dir, 'a.bin'), 'x');
    const other = await makeInviteKeys(tmp);
    const before = counter.connections;
    expect(before).toBeGreaterThan(0);
    const forged = await runCli(
      ['--server', bridge.url, '--name', 'eve', '--invite', await mintInvite(other.privateKey), 'a.bin'],
      dir,
    );
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain('(close 4012)');
    const now = Math.floor(Date.now() / 1000);
    const expired = await mintInvite(other.privateKey, { iat: now - 9, exp: now - 1 });
    // Expired by its own exp: the CLI refuses it before connecting (a usage error).
    const stale = await runCli(['--server', bridge.url, '--name', 'eve', '--invite', expired, 'a.bin'], dir);
    expect(stale.code).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    expect(counter.connections).toBe(before);
  });
});
