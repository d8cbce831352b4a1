/**
 * The owner's commands against a real server process on 127.0.0.1: `files --json`, and
 * `clients list` / `clients remove NAME` over a sender with a v3 client and two v4 keys under
 * one name (each v4 key a clients row "NAME [v4 ...]", server/v4/v4-clients.ts).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseCode } from '../../lib/protocol';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import type { KeyPairWithRaw } from '../../lib/v4/keys';
import { runAdminCommand } from '../../server/admin-command';
import {
  type FrameConn,
  KiB,
  NO_PEER_LIMITS,
  randomName,
  register,
  type ServerProcess,
  startServerProcess,
  tcpConn,
  upload,
} from '../support/hostile';
import { ownerCommand } from '../support/invite-helpers';
import { runPart } from '../support/processes';
import { newIdentity, openV4, refusedCode, zeroSource } from '../support/v4-client';

let srv: ServerProcess;
const conns: FrameConn[] = [];
beforeAll(async () => {
  // Invite mode: a relayed registration needs an invite, a direct one (loopback) does not.
  srv = await startServerProcess(['--access', 'invite', ...NO_PEER_LIMITS]);
});
afterAll(async () => {
  for (const c of conns) c.close();
  await srv?.dispose();
});

/** A v4 identity that registers (directly) under `name` and stores `file`. */
async function v4Sender(name: string, file: string): Promise<KeyPairWithRaw> {
  const key = await newIdentity();
  const s = await openV4(srv.port, key, { name });
  expect(s.registered).toBe(true);
  await s.upload(zeroSource(file, KiB), {});
  await s.close();
  return key;
}

/** A v3 client that registers under `name` and stores `file`. */
async function v3Sender(name: string, file: string) {
  const conn = await tcpConn(srv.port);
  conns.push(conn);
  const me = await register(conn, name);
  expect((await upload(conn, me, file, randomBytes(KiB)))?.code).toBe(ResponseCode.FileReceived);
  return { conn, me };
}

/** The owner's command in this process, as on a terminal unless `--json`. */
const onTerminal = (args: string[]) => runAdminCommand([...args, '--data', srv.data], { tty: true });

describe("the owner's commands beside a running server", () => {
  it('files --json prints JSON lines on a terminal too, as when piped; without it a table', async () => {
    const name = randomName('f');
    await v3Sender(name, 'f.bin');
    const piped = runPart('server', ['files', '--data', srv.data]);
    // The process itself: main.ts hands `files` to the owner's commands, which know --json.
    const asked = runPart('server', ['files', '--json', '--data', srv.data]);
    expect(asked).toBe(piped);
    // Options may come before the word, as they may for the server itself.
    expect(runPart('server', ['--data', srv.data, 'files', '--json'])).toBe(piped);
    expect(runPart('server', ['--json', '--data', srv.data, 'clients', 'list'])).toBe(
      runPart('server', ['clients', 'list', '--data', srv.data, '--json']),
    );
    const row = asked
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((f) => f.client === name);
    expect(row).toMatchObject({ fileName: 'f.bin', size: KiB });
    expect(await onTerminal(['files', '--json'])).toBe(piped);
    expect(await onTerminal(['files'])).toMatch(/^CLIENT\s+FILE\s+SIZE/);
    await expect(onTerminal(['files', 'extra'])).rejects.toThrow(/Unexpected argument "extra"/);
    await expect(onTerminal(['files', '--label', 'x'])).rejects.toThrow(/--label does not apply to files/);
  }, 30_000);

  it('clients list says which key each identity has; clients remove NAME removes the v3 client and every v4 key of that name', async () => {
    const name = randomName('alice');
    const other = randomName('bob');
    const v3 = await v3Sender(name, 'v3.bin');
    const k1 = await v4Sender(name, 'k1.bin');
    const k2 = await v4Sender(name, 'k2.bin');
    const bob = await v4Sender(other, 'bob.bin');

    const listed = ownerCommand(srv.data, ['clients', 'list']).filter((c) => String(c.name).startsWith(name));
    expect(listed.map((c) => [c.key, c.registered])).toEqual([
      ['RSA', true],
      ['v4', true],
      ['v4', true],
    ]);
    expect(String(listed[1]!.name)).toMatch(new RegExp(`^${name} \\[v4 [A-Za-z0-9+/]{8}\\]$`));
    const table = (await onTerminal(['clients', 'list'])).split('\n');
    const keyColumn = table[0]!.indexOf('KEY');
    const keys = table.filter((l) => l.startsWith(name)).map((l) => l.slice(keyColumn).split(/\s+/)[0]);
    expect(keys).toEqual(['RSA', 'v4', 'v4']);

    const removed = ownerCommand(srv.data, ['clients', 'remove', name]);
    expect(removed.map((r) => [r.key, r.files, r.filesDeleted])).toEqual([
      ['RSA', 1, false],
      ['v4', 1, false],
      ['v4', 1, false],
    ]);
    expect(removed.map((r) => r.name)).toEqual(listed.map((c) => c.name));
    const left = ownerCommand(srv.data, ['clients', 'list']).map((c) => String(c.name));
    expect(left.filter((n) => n.startsWith(name))).toEqual([]);
    expect(left.some((n) => n.startsWith(`${other} [v4 `))).toBe(true);

    // Their files stay, listed without a client.
    const files = ownerCommand(srv.data, ['files']);
    for (const f of ['v3.bin', 'k1.bin', 'k2.bin']) {
      const row = files.find((r) => r.fileName === f);
      expect(row).toMatchObject({ client: '?' });
      expect(existsSync(join(srv.data, String(row!.path)))).toBe(true);
    }
    // The v3 client still connected can no longer upload.
    expect((await upload(v3.conn, v3.me, 'more.bin', randomBytes(KiB)))?.code).toBe(ResponseCode.ServerError);

    // A removed v4 key is unknown: relayed without an invite it is a new registration, refused.
    expect(await refusedCode(openV4(srv.port, k1, { name, relayed: {} }))).toBe(V4ErrorCode.InviteRequired);
    // Where no invite is needed (a direct connection here) it simply registers again.
    const back = await openV4(srv.port, k2, { name });
    expect(back.registered).toBe(true);
    await back.close();
    // The other sender is untouched: a reconnect.
    const still = await openV4(srv.port, bob, { name: other });
    expect(still.registered).toBe(false);
    await still.close();

    await expect(onTerminal(['clients', 'remove', randomName('nobody')])).rejects.toThrow(/No client named/);
  }, 60_000);

  it('clients remove with a whole v4 name removes that key only; --files deletes its files; the terminal says what went', async () => {
    const name = randomName('carol');
    await v3Sender(name, 'c3.bin');
    await v4Sender(name, 'c4a.bin');
    await v4Sender(name, 'c4b.bin');
    const [one] = ownerCommand(srv.data, ['clients', 'list']).filter((c) =>
      String(c.name).startsWith(`${name} [v4 `),
    );
    const path = String(ownerCommand(srv.data, ['files']).find((f) => f.clientId === one!.clientId)?.path);
    expect(existsSync(join(srv.data, path))).toBe(true);
    const gone = await onTerminal(['clients', 'remove', String(one!.name), '--files']);
    expect(gone.split('\n')[0]).toBe(`Removed "${one!.name}": 1 v4 key.`);
    expect(gone).toMatch(/Its 1 file \(1\.0 KiB\) was deleted\./);
    expect(existsSync(join(srv.data, path))).toBe(false);
    // Its folder held only that file: it goes too (it was left behind, empty).
    expect(existsSync(dirname(join(srv.data, path)))).toBe(false);
    expect(
      ownerCommand(srv.data, ['clients', 'list']).filter((c) => String(c.name).startsWith(name)),
    ).toHaveLength(2);

    const rest = await onTerminal(['clients', 'remove', name]);
    expect(rest.split('\n')[0]).toBe(`Removed "${name}": 1 v3 client and 1 v4 key.`);
    expect(rest).toMatch(
      /Their 2 files \(2\.0 KiB\) stay \(listed by the files command; --files deletes them\)\./,
    );
  }, 60_000);
});
