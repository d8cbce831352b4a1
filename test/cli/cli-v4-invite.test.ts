/**
 * The CLI with protocol 4 and invites, real processes on 127.0.0.1 (server in invite mode,
 * bridge in invite mode in front of it): `--protocol auto` through a ws:// bridge speaks 4
 * and prints the SHA-256; an invite link from `invite create` carries the server key's
 * fingerprint, which the first connection checks and pins; a link naming another key is
 * refused with the changed-key warning naming both, nothing sent; over direct TCP the
 * invite goes in ClientAuth and binds the key; with a protocol 3 identity holding the invite's
 * one client slot, auto sends with protocol 3 as that identity at once (no v4 attempt, run
 * after run) and says why, and --protocol 4 fails saying how to proceed; over direct TCP auto
 * still tries 4 and falls back on Error 5.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintFromLink, inviteLink, tokenFromLink } from '../../lib/invite';
import type { SpawnedBridge } from '../bridge/helpers';
import { runCli } from '../support/cli-process';
import { forgedToken } from '../support/invite-helpers';
import { type InviteSystem, startInviteSystem } from '../support/invite-system';
import { type Listening, runPart } from '../support/processes';
import { queryDb } from '../support/server-state';

let sys: InviteSystem;
let data: string;
let server: Listening;
let bridge: SpawnedBridge;

beforeAll(async () => {
  sys = await startInviteSystem({ prefix: 'sft-cli4-invite-' });
  ({ data, server, bridge } = sys);
});
afterAll(() => sys?.stop());

/** 300 000 bytes: several records. */
const folder = (name: string) => sys.folder(name, 300_000);

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const boundTo = (sha256: string) =>
  queryDb<{ InviteID: string | null }>(
    data,
    'SELECT c.InviteID FROM files f JOIN clients c ON c.ID = f.ID WHERE f.Sha256 = ?',
    sha256,
  )[0]?.InviteID;

describe('CLI protocol 4 with invites', () => {
  it('through the bridge: auto speaks 4, prints the SHA-256, checks and pins the fingerprint the link carries', async () => {
    const { dir, bytes } = await folder('gina');
    const inv = sys.createInvite();
    expect(inv.fingerprint).toBe(server.event.fingerprint);
    expect(fingerprintFromLink(inv.link)).toBe(inv.fingerprint);
    const run = await runCli(['--server', bridge.url, '--name', 'gina', '--invite', inv.link, 'a.bin'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain('with protocol 4 (registered this key)');
    expect(run.stderr).toContain(`is the one the invite link names; pinned it: ${inv.fingerprint}.`);
    expect(run.stdout).toContain(`a.bin  300000 bytes  SHA-256 ${sha(bytes)}  verified`);
    expect((await readFile(path.join(dir, 'known_servers'), 'utf8')).trim()).toBe(
      `${bridge.url} ${inv.fingerprint}`,
    );
    expect(boundTo(sha(bytes))).toBe(inv.id);
    // The files listing shows the SHA-256.
    const listed = runPart('server', ['files', '--data', data])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { sha256: string | null });
    expect(listed.map((f) => f.sha256)).toContain(sha(bytes));
  });

  it('a link naming another server key is refused with the changed-key warning, nothing sent or pinned', async () => {
    const { dir, bytes } = await folder('hugo');
    const inv = sys.createInvite();
    const wrong = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const link = inviteLink('https://files.example.org/', tokenFromLink(inv.link), wrong);
    for (const server of [bridge.url, `127.0.0.1:${serverPort()}`]) {
      const run = await runCli(['--server', server, '--name', 'hugo', '--invite', link, 'a.bin'], dir);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('WARNING');
      expect(run.stderr).toContain(wrong);
      expect(run.stderr).toContain(inv.fingerprint);
    }
    expect(queryDb(data, 'SELECT 1 FROM files WHERE Sha256 = ?', sha(bytes))).toEqual([]);
    await expect(readFile(path.join(dir, 'known_servers'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('over direct TCP the invite goes in ClientAuth: the key is bound; a forged one is refused (5)', async () => {
    const { dir, bytes } = await folder('ivy');
    const inv = sys.createInvite();
    const tcp = `127.0.0.1:${serverPort()}`;
    const run = await runCli(['--server', tcp, '--name', 'ivy', '--invite', inv.link, 'a.bin'], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(boundTo(sha(bytes))).toBe(inv.id);
    const other = await folder('jon');
    const forged = await runCli(
      ['--server', tcp, '--name', 'jon', '--invite', await forgedToken(), 'a.bin'],
      other.dir,
    );
    expect(forged.code).toBe(1);
    expect(forged.stderr).toContain(
      'Error: This invite is not valid (forged, expired or revoked). It was the invite given with --invite: ask the owner of the server for a new link and pass it with --invite LINK.',
    );
  });

  it('a revoked invite kept in invite.link: the error names that file and says to pass a new link', async () => {
    const { dir } = await folder('rex');
    const inv = sys.createInvite();
    const first = await runCli(['--server', bridge.url, '--name', 'rex', '--invite', inv.link, 'a.bin'], dir);
    expect(first.code, first.stderr).toBe(0);
    sys.admin('invite', 'revoke', inv.id);
    const again = await runCli(['--server', bridge.url, 'a.bin'], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `Error: This invite is not valid (forged, expired or revoked). It was the invite kept in ${path.join(dir, 'invite.link')}: ask the owner of the server for a new link and pass it with --invite LINK (it replaces the kept one).`,
    );
  });
});

describe('CLI auto with an invite whose client slot a protocol 3 identity holds', () => {
  it('auto sends with protocol 3 as that identity and says why; --protocol 4 fails saying how to proceed', async () => {
    const { dir } = await folder('kim');
    await writeFile(path.join(dir, 'b.bin'), randomBytes(60_000));
    const inv = sys.createInvite();
    const v3 = await runCli(
      ['--server', bridge.url, '--protocol', '3', '--name', 'kim', '--invite', inv.link, 'a.bin'],
      dir,
    );
    expect(v3.code, v3.stderr).toBe(0);
    expect(v3.stderr).toContain('Registered with');
    const slotHolder = clientsOf(inv.id);
    expect(slotHolder).toHaveLength(1);

    // No --name (me.info has it), the kept invite.link: auto speaks 3 at once, run after run
    // (a v4 key would find no slot: Error 5). No v4 attempt: no v4 key made, nothing v4 logged.
    expect(existsSync(path.join(dir, 'v4.key'))).toBe(false);
    const v4Lines = () => server.lines.filter((l) => String(l.event).startsWith('v4-')).length;
    const v4Before = v4Lines();
    for (const run of [1, 2]) {
      const auto = await runCli(['--server', bridge.url, 'b.bin'], dir);
      expect(auto.code, `run ${run}: ${auto.stderr}`).toBe(0);
      expect(auto.stderr).toContain(
        `Sending with protocol 3 as your protocol 3 identity (${path.join(dir, 'me.info')}): it holds this invite's client slot.`,
      );
      expect(auto.stderr).not.toContain('on a new connection');
      expect(auto.stderr).toContain('Reconnected to');
      expect(auto.stdout).toMatch(/^b\.bin {2}60000 bytes {2}CRC \d+ {2}verified/);
    }
    expect(existsSync(path.join(dir, 'v4.key'))).toBe(false);
    expect(v4Lines()).toBe(v4Before);
    // The file is the v3 identity's; the invite still has the one client.
    expect(clientsOf(inv.id)).toEqual(slotHolder);
    expect(
      queryDb(
        data,
        "SELECT 1 FROM files WHERE FileName = 'b.bin' AND ID = (SELECT ID FROM clients WHERE Name = 'kim')",
      ),
    ).toHaveLength(1);

    const forced = await runCli(['--server', bridge.url, '--protocol', '4', 'b.bin'], dir);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toContain('This invite is not valid');
    expect(forced.stderr).toContain('held by your protocol 3 identity');
    expect(forced.stderr).toContain('with --protocol 3 (or auto, the default)');
    // The refused key has no v4.name: auto still goes straight to 3.
    expect(existsSync(path.join(dir, 'v4.name'))).toBe(false);
    const after = await runCli(['--server', bridge.url, 'b.bin'], dir);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).toContain('Sending with protocol 3 as your protocol 3 identity');
  });

  it('over direct TCP (protocol 3 cannot carry the invite) auto still tries 4 first and falls back on Error 5', async () => {
    const { dir } = await folder('lea');
    const inv = sys.createInvite();
    const v3 = await runCli(
      ['--server', bridge.url, '--protocol', '3', '--name', 'lea', '--invite', inv.link, 'a.bin'],
      dir,
    );
    expect(v3.code, v3.stderr).toBe(0);
    const tcp = await runCli(['--server', `127.0.0.1:${serverPort()}`, '--invite', inv.link, 'a.bin'], dir);
    expect(tcp.stderr).toContain(
      `This invite's client slot is held by your protocol 3 identity (${path.join(dir, 'me.info')}); sending with protocol 3 on a new connection.`,
    );
    expect(existsSync(path.join(dir, 'v4.key'))).toBe(true);
  });
});

const clientsOf = (inviteId: string) =>
  queryDb<{ ID: Buffer }>(data, 'SELECT ID FROM clients WHERE InviteID = ?', inviteId).map((r) =>
    r.ID.toString('hex'),
  );

function serverPort(): number {
  return server.port;
}
