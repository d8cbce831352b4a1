/**
 * The file server: a `net` server, one Connection per socket, and the layers every
 * connection shares: the database, the file store over the storage, and one turn budget.
 * Usable in-process (tests) and from main.ts.
 */

import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { isLoopbackHost } from '../lib/invite/access';
import { DEFAULT_PARTIAL_TTL_SECONDS } from '../lib/protocol/v4/constants';
import { createLogger, type Logger } from '../platform/log';
import { LogSampler } from '../platform/log-sampler';
import { Admission, peerText } from './admission';
import { DEFAULT_DISK_RESERVE_BYTES, DEFAULT_DISK_RESERVE_FRACTION, type ServerConfig } from './config';
import { Connection } from './connection';
import { secureDataFolder } from './data-folder';
import { type DataFolderLock, LOCK_FILE, lockDataFolder, PID_FILE } from './data-lock';
import type { Database } from './database';
import { SqliteDatabase } from './db';
import type { FileStorage } from './file-storage';
import { FileStore, type Recovered } from './file-store';
import { InviteGate } from './invite-gate';
import { loadInviteKeys } from './invite-keys';
import { removeStaleKeyTemps } from './key-temps';
import { LocalFileStorage } from './local-storage';
import { PeerLimits } from './peer-limits';
import { pickProtocol } from './protocol-switch';
import { TurnBudget } from './turn-budget';
import { UploadQuota } from './upload-quota';
import { PARTIAL_FOLDER, PartialUploads } from './v4/partial-uploads';
import { loadServerIdentity, type ServerIdentity } from './v4/server-key';
import { V4Connection } from './v4/v4-connection';

export const DATABASE_FILE = 'defensive.db';
/** How often connections are checked for the idle timeout (at most). */
const SWEEP_INTERVAL_MS = 1000;
/** How often expired unfinished v4 uploads are removed. */
const PARTIAL_SWEEP_MS = 3_600_000;
/** How often a running server looks for removals left unfinished (FileStore.finishRemovals). */
const REMOVAL_SWEEP_MS = 60_000;

export interface FileServer {
  /** Opens the database and storage, cleans temp files and starts listening. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, ends every connection (dropping unfinished v3 uploads; v4 ones are kept for a resume) and closes the database. */
  close(): Promise<void>;
  /** The listening address, once listening. */
  address(): AddressInfo | null;
  /** Open connections (for tests and the log). */
  readonly connections: number;
}

export interface FileServerOptions {
  /** Where the log goes (default: the `server` part's logger on stdout). */
  log?: Logger;
  /** The database (default: SQLite in the data folder's defensive.db); closed by close(). */
  database?: () => Database;
  /** The file storage (default: the data folder). */
  storage?: () => FileStorage;
}

export function createFileServer(config: ServerConfig, opts: FileServerOptions = {}): FileServer {
  const log = opts.log ?? createLogger({ part: 'server' });
  const budget = new TurnBudget();
  const limits = new PeerLimits(config);
  const sampler = new LogSampler({ rate: config.logRate, log });
  const admission = new Admission(config, log, sampler);
  const connections = new Set<Connection | V4Connection>();
  let shared: { db: Database; files: FileStore; invites: InviteGate; quota: UploadQuota } | null = null;
  let v4: { identity: ServerIdentity; partials: PartialUploads } | null = null;
  let server: Server | null = null;
  let sweeper: NodeJS.Timeout | null = null;
  let partialSweeper: NodeJS.Timeout | null = null;
  let removalSweeper: NodeJS.Timeout | null = null;
  let closing: Promise<void> | null = null;
  let lock: DataFolderLock | null = null;

  function onConnection(socket: Socket): void {
    if (closing || !shared) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    void admission.admit(socket).then((admitted) => {
      if (!admitted) return;
      const { peer, lease } = admitted;
      if (closing || !shared || socket.destroyed) {
        lease.release(); // (idempotent: 'close' may still come)
        socket.destroy();
        return;
      }
      socket.once('close', () => lease.release());
      // Silent from the start: closed when a v3 connection would have been (login grace or
      // idle timeout, whichever comes first), with the same log line.
      const graceFirst = config.loginGraceMs < config.idleTimeoutMs;
      const silentMs = graceFirst ? config.loginGraceMs : config.idleTimeoutMs;
      void pickProtocol(socket, silentMs).then((version) => {
        const reason = graceFirst ? 'login grace' : 'idle';
        if (version === 'idle' && sampler.allow(peer.source, `timeout ${reason}`)) {
          log.child({ peer: peerText(peer) }).info({ event: 'timeout', reason });
        }
        if (typeof version !== 'number' || closing || !shared || socket.destroyed) {
          socket.destroy();
          return;
        }
        // Both versions hold the same rules (invites, quotas, limits: server/v4/v4-access.ts),
        // relayed or direct.
        const connection =
          version === 4 && v4
            ? new V4Connection(socket, { ...shared, ...v4, config, log, limits, sampler }, { peer, lease })
            : new Connection(socket, { ...shared, config, log, budget, limits, sampler }, { peer, lease });
        connections.add(connection);
        socket.once('close', () => {
          void connection.close('peer closed').then(() => connections.delete(connection));
        });
        socket.resume();
      });
    });
  }

  /** listen() past the lock: the storage, database and keys, then the socket. */
  async function start(): Promise<AddressInfo> {
    // --direct-writes: v3 temp files and v4 records alike.
    const direct = config.directWrites !== false;
    const storage = opts.storage?.() ?? new LocalFileStorage(config.dataDir, { direct });
    // A kill -9 while a key file was being written left its temp file (the private key, in
    // the clear, for invite.key and server.key): gone at the next start, unless it is young
    // enough to be another process's write in progress (`invite create` beside this start).
    const staleTemps = await removeStaleKeyTemps(config.dataDir);
    if (staleTemps.length > 0)
      log.info({ event: 'temp-files-removed', count: staleTemps.length, files: staleTemps });
    const keys = await loadInviteKeys(config.dataDir);
    const db =
      opts.database?.() ??
      new SqliteDatabase(join(config.dataDir, DATABASE_FILE), { walLimitBytes: config.walLimit });
    const files = new FileStore(db, storage);
    const partials = new PartialUploads(
      config.dataDir,
      config.partialTtlMs ?? DEFAULT_PARTIAL_TTL_SECONDS * 1000,
      config.maxPartialUploads,
      // A resume waits for a store in flight as long as a connection may go without progress.
      { direct, storeWaitMs: config.idleTimeoutMs },
    );
    // Before the temp files are swept and the partial uploads indexed: what a crash cut
    // between the stored files and their rows is finished or undone first.
    for (const r of await files.recover((source, token) => partials.recoverStored(source, token)))
      log.warn({ event: 'store-recovered', outcome: r.outcome, path: r.pathName }, recoveredSentence(r));
    const removed = await storage.init();
    if (removed > 0) log.info({ event: 'temp-files-removed', count: removed });
    const invites = new InviteGate(db, keys.publicKey, config.access);
    const identity = await loadServerIdentity(config.dataDir);
    const { damaged } = await partials.init();
    for (const file of damaged)
      log.warn(
        {
          event: 'partial-state-damaged',
          file: join(PARTIAL_FOLDER, file),
          advice: 'its upload cannot be resumed and starts again; its part is removed after --partial-ttl',
        },
        `The state file ${join(PARTIAL_FOLDER, file)} of an unfinished upload is damaged: its upload cannot be resumed and starts again; the part is kept until --partial-ttl and then removed.`,
      );
    const quota = new UploadQuota(db, invites, {
      dataDir: config.dataDir,
      limits: config,
      defaultReserve: { bytes: DEFAULT_DISK_RESERVE_BYTES, fraction: DEFAULT_DISK_RESERVE_FRACTION },
      // Unfinished v4 uploads' bytes count against their client's and invite's quotas.
      kept: partials,
    });
    shared = { db, files, invites, quota };
    v4 = { identity, partials };
    partialSweeper = setInterval(() => void partials.sweep().catch(() => {}), PARTIAL_SWEEP_MS);
    partialSweeper.unref();
    // Removals another process wrote down and did not finish (`clients remove --files` cut).
    removalSweeper = setInterval(() => {
      void files
        .finishRemovals()
        .then((done) => {
          for (const r of done)
            log.warn(
              { event: 'removal-finished', outcome: r.outcome, path: r.pathName },
              recoveredSentence(r),
            );
        })
        .catch((e: Error) => log.warn({ event: 'removal-finish-failed', message: e.message }));
    }, REMOVAL_SWEEP_MS);
    removalSweeper.unref();
    const srv = createServer({ pauseOnConnect: false }, onConnection);
    server = srv;
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(config.port, config.host, () => {
        srv.off('error', reject);
        resolve();
      });
    }).catch(async (e) => {
      await db.close();
      throw e;
    });
    srv.on('error', (e) => log.error({ event: 'server-error', message: e.message }));
    const interval = Math.max(50, Math.min(SWEEP_INTERVAL_MS, config.idleTimeoutMs / 4));
    sweeper = setInterval(() => {
      const now = Date.now();
      for (const c of connections) c.checkTimeout(now);
    }, interval);
    sweeper.unref();
    const addr = srv.address() as AddressInfo;
    if (config.access === 'open' && !isLoopbackHost(config.host)) {
      log.warn({
        event: 'access-open',
        host: config.host,
        advice: 'anyone who reaches the bridge may register and send; use --access invite',
      });
    }
    log.info({
      event: 'listening',
      host: addr.address,
      port: addr.port,
      data: config.dataDir,
      access: config.access,
      fingerprint: identity.fingerprint,
    });
    return addr;
  }

  return {
    get connections() {
      return connections.size;
    },

    address() {
      const a = server?.address();
      return a && typeof a === 'object' ? a : null;
    },

    async listen() {
      const openMode = await secureDataFolder(config.dataDir);
      if (openMode !== null) {
        log.warn({
          event: 'data-folder-permissions',
          data: config.dataDir,
          mode: openMode.toString(8).padStart(4, '0'),
          advice: 'chmod 700 it: it holds session keys and received files',
        });
      }
      // Before anything in the folder is cleared: another server may be using it.
      lock = await lockDataFolder(config.dataDir);
      if (lock.repaired)
        log.warn(
          { event: 'data-lock-repaired', file: LOCK_FILE },
          `${LOCK_FILE} in the data folder was damaged (not a lock file of this server); it holds nothing else, so it was emptied and taken.`,
        );
      if (lock.tookOverFrom !== null)
        log.info({ event: 'data-lock-taken-over', pid: lock.tookOverFrom, file: PID_FILE });
      try {
        return await start();
      } catch (e) {
        await lock.release();
        throw e;
      }
    },

    close() {
      closing ??= (async () => {
        if (sweeper) clearInterval(sweeper);
        if (partialSweeper) clearInterval(partialSweeper);
        if (removalSweeper) clearInterval(removalSweeper);
        const closed = server ? new Promise<void>((r) => server!.close(() => r())) : Promise.resolve();
        await Promise.all([...connections].map((c) => c.destroy()));
        connections.clear();
        await closed;
        await shared?.db.close();
        await lock?.release();
        sampler.flush();
        log.info({ event: 'stopped' });
      })();
      return closing;
    },
  };
}

/** What the log says of one change a crash cut (FileStore.recover). */
function recoveredSentence(r: Recovered): string {
  const p = r.pathName;
  switch (r.outcome) {
    case 'recorded':
      return `The server stopped after moving ${p} into place and before recording it: recorded now.`;
    case 'not-moved':
      return `The server stopped before moving a finished upload to ${p}: it was not stored (its sender sends it again).`;
    case 'put-back':
      return `The server could not record the replacement of ${p} and stopped before it was undone: the replaced file is there as before, undone now.`;
    case 'superseded':
      return `A replacement of ${p} that could not be recorded was replaced again since: the later file and its record stay.`;
    case 'lost':
      return `The server stopped while storing ${p}, and the file is in neither place: it was not stored.`;
    case 'sender-removed':
      return `The server stopped while storing ${p}, and its sender was removed since: the file was removed.`;
    case 'removed':
      return `A removal of ${p} was cut part-way: removed now.`;
    case 'kept':
      return `A removal of ${p} was cut part-way, and a file record uses it again: kept.`;
  }
}
