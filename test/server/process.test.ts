/**
 * The server as its own process (server/main.ts through tsx): port 0, restart with the
 * same data folder, SIGTERM mid-upload, the `files` command, port.info.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeRequest, encodeSendFilePrefix, RequestCode, ResponseCode } from '../../lib/protocol';
import { runPart } from '../support/processes';
import {
  RawClient,
  registerAndExchange,
  type SpawnedServer,
  sendFile,
  spawnServer,
  tempDir,
  unwrapKey,
  waitFor,
} from '../support/server-helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function workDir() {
  const d = tempDir('sft-proc-');
  cleanups.push(() => d.remove());
  return d.path;
}

async function start(args: string[], cwd: string): Promise<SpawnedServer> {
  const s = await spawnServer(args, cwd);
  cleanups.push(() => s.stop('SIGKILL'));
  return s;
}

function runFiles(cwd: string, data: string): string {
  return runPart('server', ['files', '--data', data], { cwd });
}

describe('server process', () => {
  it('prints the chosen port; after a restart on the same data folder the client reconnects (1605) and uploads', async () => {
    const cwd = workDir();
    const data = join(cwd, 'data');
    const s1 = await start(['--port', '0', '--data', data], cwd);
    expect(s1.port).toBeGreaterThan(0);
    const c1 = await RawClient.connect(s1.port);
    const id = await registerAndExchange(c1, 'survivor');
    const first = randomBytes(3000);
    await sendFile(c1, id, { fileName: 'one.txt', data: first });
    expect((await c1.next())?.code).toBe(ResponseCode.FileReceived);
    expect(
      (
        await c1.request(
          encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName: 'one.txt' }),
        )
      )?.code,
    ).toBe(ResponseCode.Thanks);
    c1.close();
    expect(await s1.stop('SIGTERM')).toBe(0);

    const s2 = await start(['--port', '0', '--data', data], cwd);
    const c2 = await RawClient.connect(s2.port);
    const r = await c2.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: id.clientId, name: 'survivor' }),
    );
    expect(r?.code).toBe(ResponseCode.Reconnected);
    if (r?.code !== ResponseCode.Reconnected) return;
    const again = { ...id, aesKey: unwrapKey(id.keys, r.encryptedKey) };
    const second = randomBytes(5000);
    await sendFile(c2, again, { fileName: 'two.txt', data: second });
    expect((await c2.next())?.code).toBe(ResponseCode.FileReceived);
    c2.close();
    await s2.stop();

    const lines = runFiles(cwd, data)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ client: 'survivor', fileName: 'one.txt', size: 3000, verified: true });
    expect(lines[1]).toMatchObject({ client: 'survivor', fileName: 'two.txt', size: 5000, verified: false });
    expect(readFileSync(join(data, lines[0].path)).equals(first)).toBe(true);
    expect(readFileSync(join(data, lines[1].path)).equals(second)).toBe(true);
  });

  it('SIGTERM mid-upload: exits 0, no partial file, no temp file, database intact', async () => {
    const cwd = workDir();
    const data = join(cwd, 'data');
    const s = await start(['--port', '0', '--data', data], cwd);
    const c = await RawClient.connect(s.port);
    const id = await registerAndExchange(c, 'interrupted');
    // Half of a 10-packet file.
    const contentSize = 10 * 1024;
    for (let n = 1; n <= 5; n++) {
      await c.send(
        encodeSendFilePrefix(
          {
            clientId: id.clientId,
            contentSize,
            origSize: contentSize - 1,
            packetNumber: n,
            totalPackets: 10,
            fileName: 'half.bin',
          },
          1024,
        ),
        randomBytes(1024),
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(await s.stop('SIGTERM')).toBe(0);
    await c.closedPromise;
    expect(readdirSync(join(data, 'tmp'))).toEqual([]);
    const db = new Database(join(data, 'defensive.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('SELECT count(*) AS n FROM files').get()).toEqual({ n: 0 });
    expect(db.prepare('SELECT Name FROM clients').all()).toEqual([{ Name: 'interrupted' }]);
    db.close();
  });

  it('kill -9 mid-upload, then restart: temp files cleaned, nothing stored, client reconnects', async () => {
    const cwd = workDir();
    const data = join(cwd, 'data');
    const s = await start(['--port', '0', '--data', data], cwd);
    const c = await RawClient.connect(s.port);
    const id = await registerAndExchange(c, 'crashy');
    for (let n = 1; n <= 5; n++) {
      await c.send(
        encodeSendFilePrefix(
          {
            clientId: id.clientId,
            contentSize: 10 * 1024,
            origSize: 10 * 1024 - 1,
            packetNumber: n,
            totalPackets: 10,
            fileName: 'x.bin',
          },
          1024,
        ),
        randomBytes(1024),
      );
    }
    await waitFor(() => readdirSync(join(data, 'tmp')).length === 1, 'the partial upload to reach the disk');
    await s.stop('SIGKILL');
    const s2 = await start(['--port', '0', '--data', data], cwd);
    expect(readdirSync(join(data, 'tmp'))).toEqual([]);
    const c2 = await RawClient.connect(s2.port);
    const r = await c2.request(
      encodeRequest({ code: RequestCode.Reconnect, clientId: id.clientId, name: 'crashy' }),
    );
    expect(r?.code).toBe(ResponseCode.Reconnected);
    if (r?.code !== ResponseCode.Reconnected) return;
    // The interrupted file goes through on the new server.
    const whole = randomBytes(10 * 1024 - 1);
    await sendFile(
      c2,
      { ...id, aesKey: unwrapKey(id.keys, r.encryptedKey) },
      { fileName: 'x.bin', data: whole },
    );
    expect((await c2.next())?.code).toBe(ResponseCode.FileReceived);
    c2.close();
    await s2.stop();
    const db = new Database(join(data, 'defensive.db'), { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(db.prepare('SELECT FileName, Verified, Size FROM files').all()).toEqual([
      { FileName: 'x.bin', Verified: 0, Size: 10 * 1024 - 1 },
    ]);
    db.close();
  });

  it('reads port.info from its working folder; --help lists every option', async () => {
    const cwd = workDir();
    // Ask the OS for a free port, then hand it over through port.info.
    const probe = await spawnServer(['--port', '0', '--data', join(cwd, 'probe')], cwd);
    const free = probe.port;
    await probe.stop();
    writeFileSync(join(cwd, 'port.info'), `${free}\n`);
    const s = await start(['--data', join(cwd, 'data')], cwd);
    expect(s.port).toBe(free);
    await s.stop();
    const help = runPart('server', ['--help'], { cwd });
    expect(help).toContain('--max-connections');
    expect(existsSync(join(cwd, 'data', 'defensive.db'))).toBe(true);
  });
});
