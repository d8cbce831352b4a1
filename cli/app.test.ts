/** cli/app.ts in-process: the sentences it adds to a failure, and usage errors (no network). */
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientError } from '../lib/client';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { EXIT_USAGE, inviteNextStep, runCli } from './app';

const refused = (wireCode: number) =>
  new ClientError('CLIENT_ERR_V4_REFUSED', 'This invite is not valid (forged, expired or revoked).', {
    wireCode,
  });

describe('inviteNextStep', () => {
  const dir = '/srv/sender/send';

  it('names where a refused invite came from and says to pass a new one with --invite', () => {
    expect(
      inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity: null, invite: { saved: false } }),
    ).toBe(
      ' It was the invite given with --invite: ask the owner of the server for a new link and pass it with --invite LINK.',
    );
    expect(
      inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity: null, invite: { saved: true } }),
    ).toBe(
      ' It was the invite kept in /srv/sender/send/invite.link: ask the owner of the server for a new link and pass it with --invite LINK (it replaces the kept one).',
    );
  });

  it('an invite wanted and none given: pass the link with --invite', () => {
    expect(inviteNextStep(refused(V4ErrorCode.InviteRequired), { dir, identity: null, invite: null })).toBe(
      ' Pass the invite link the owner of the server gave you with --invite LINK.',
    );
  });

  it('adds nothing to other refusals, or where protocol-fallback.ts explains the slot', () => {
    const saved = { saved: true };
    expect(inviteNextStep(refused(V4ErrorCode.Busy), { dir, identity: null, invite: saved })).toBe('');
    expect(
      inviteNextStep(new ClientError('CLIENT_ERR_UNREACHABLE', 'x'), { dir, identity: null, invite: saved }),
    ).toBe('');
    const identity = { name: 'a', clientId: new Uint8Array(16), privateKeyPkcs8: new Uint8Array(1) };
    expect(inviteNextStep(refused(V4ErrorCode.InviteInvalid), { dir, identity, invite: saved })).toBe('');
  });
});

describe('an unknown option that is a file', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sft-cli-app-'));
    await writeFile(path.join(dir, '-dash.txt'), 'x');
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    const out = { stdout: '', stderr: '' };
    const code = await runCli(argv, {
      stdout: { write: (t: string) => (out.stdout += t) },
      stderr: { write: (t: string) => (out.stderr += t) },
      cwd: dir,
    });
    return { code, ...out };
  }

  it('says to give it after -- or as ./NAME (still a usage error, exit 2)', async () => {
    const r = await run(['--server', '127.0.0.1:1', '-dash.txt']);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      'Error: Unknown option -d. Run with --help to see the options. -dash.txt is a file here: to send it, ' +
        'give it after -- (as in npm run client -- [options] -- -dash.txt) or as ./-dash.txt.\n',
    );
  });

  it('no hint when no such file exists', async () => {
    const r = await run(['-nofile.txt']);
    expect(r.code).toBe(EXIT_USAGE);
    expect(r.stderr).toBe('Error: Unknown option -n. Run with --help to see the options.\n');
  });
});

describe('temp files a killed write left in --dir', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sft-cli-temps-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('are removed by the next run when older than a minute; a fresh one and other files stay', async () => {
    const left = async (name: string, ageMs: number) => {
      await writeFile(path.join(dir, name), 'secret');
      const t = (Date.now() - ageMs) / 1000;
      await utimes(path.join(dir, name), t, t);
    };
    await left('v4.key.4242.0123abcd.tmp', 120_000);
    await left('priv.key.4242.89abcdef.tmp', 120_000);
    await left('v4-uploads.json.4242.00112233.tmp', 120_000);
    await left('known_servers.4243.fedcba98.tmp', 1_000); // another run writing now
    await left('report.pdf.4242.0123abcd.tmp', 120_000); // not a file of ours
    // The run stops at the missing file, before any connection: the sweep came first.
    const code = await runCli(['--server', '127.0.0.1:1', '--dir', dir, '--', 'missing.txt'], {
      stdout: { write: () => {} },
      stderr: { write: () => {} },
      cwd: dir,
    });
    expect(code).not.toBe(0);
    expect((await readdir(dir)).sort()).toEqual([
      'known_servers.4243.fedcba98.tmp',
      'report.pdf.4242.0123abcd.tmp',
    ]);
  });
});
