/**
 * The invite system as the end-to-end tests of the CLI run it (issue 15): the real server
 * and, in front of it, the real bridge in invite mode checking tokens with the server's
 * invite.pub only; optionally a relay between the two (a counting proxy). `admin` runs the
 * server's own admin commands (`invite create`, `clients list`, ...) on its data folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tokenFromLink } from '../../lib/invite';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { killCliRuns } from './cli-process';
import { type Listening, runPart, spawnPart } from './processes';

/** A link from `invite create`: its token, ID and the server key fingerprint it carries. */
export interface CreatedInvite {
  link: string;
  token: string;
  id: string;
  fingerprint: string;
}

export interface InviteSystem {
  /** The test's temporary folder (the data folder and the senders' folders are in it). */
  tmp: string;
  data: string;
  server: Listening;
  bridge: SpawnedBridge;
  /** `npm run server -- ARGS --data DATA --json`, one object per line. */
  admin(...args: string[]): Record<string, unknown>[];
  /** `invite create [ARGS]`. */
  createInvite(...args: string[]): CreatedInvite;
  /** A new sender's folder in `tmp` with `a.bin` of `size` random bytes. */
  folder(name: string, size?: number): Promise<{ dir: string; bytes: Buffer }>;
  /** Kills the CLI runs still going, stops the processes, removes `tmp`. */
  stop(): Promise<void>;
}

export interface InviteSystemOptions {
  /** The temporary folder's prefix. */
  prefix: string;
  /** The server's --access (default invite; the bridge is in invite mode either way). */
  serverAccess?: 'open' | 'invite';
  /** Something between bridge and server (given the server's port), e.g. a counting proxy. */
  relay?(serverPort: number): Promise<{ port: number; close(): Promise<void> }>;
}

export async function startInviteSystem(opts: InviteSystemOptions): Promise<InviteSystem> {
  const tmp = await mkdtemp(path.join(tmpdir(), opts.prefix));
  const data = path.join(tmp, 'data');
  /** How to stop what was started, in the order started. */
  const started: Array<() => Promise<unknown>> = [];
  const stopAll = async () => {
    for (const stop of started.splice(0).reverse()) await stop();
    await rm(tmp, { recursive: true, force: true });
  };
  let server: Listening;
  let relay: { port: number; close(): Promise<void> } | undefined;
  let bridge: SpawnedBridge;
  try {
    server = await spawnPart('server', [
      '--port',
      '0',
      '--data',
      data,
      '--access',
      opts.serverAccess ?? 'invite',
    ]);
    started.push(() => server.stop());
    relay = await opts.relay?.(server.port);
    if (relay) started.push(() => relay!.close());
    bridge = await spawnBridge([
      '--target',
      `127.0.0.1:${relay?.port ?? server.port}`,
      '--access',
      'invite',
      '--invite-key',
      path.join(data, 'invite.pub'),
    ]);
    started.push(() => bridge.stop());
  } catch (e) {
    await stopAll();
    throw e;
  }
  const admin = (...args: string[]) =>
    runPart('server', [...args, '--data', data, '--json'])
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    tmp,
    data,
    server,
    bridge,
    admin,
    createInvite: (...args) => {
      const [made] = admin('invite', 'create', ...args);
      const link = String(made!.link);
      return {
        link,
        token: tokenFromLink(link),
        id: String(made!.id),
        fingerprint: String(made!.fingerprint),
      };
    },
    folder: async (name, size = 70_000) => {
      const dir = await mkdtemp(path.join(tmp, `${name}-`));
      const bytes = randomBytes(size);
      await writeFile(path.join(dir, 'a.bin'), bytes);
      return { dir, bytes };
    },
    stop: async () => {
      killCliRuns();
      await stopAll();
    },
  };
}
