/**
 * The file server: a `net` server, one Session per connection, shared database and
 * storage. Usable in-process (tests) and from main.ts.
 */

import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeResponse, ResponseCode } from '../lib/protocol';
import type { ServerConfig } from './config';
import { ServerDatabase } from './db';
import { createJsonLogger, type Logger } from './log';
import { Session } from './session';
import { Storage } from './storage';

export const DATABASE_FILE = 'defensive.db';
/** How often connections are checked for the idle timeout (at most). */
const SWEEP_INTERVAL_MS = 1000;

export interface FileServer {
  /** Opens the database and storage, cleans temp files and starts listening. */
  listen(): Promise<AddressInfo>;
  /** Stops accepting, ends every connection (dropping partial uploads) and closes the database. */
  close(): Promise<void>;
  /** The listening address, once listening. */
  address(): AddressInfo | null;
  /** Open connections (for tests and the log). */
  readonly connections: number;
}

export function createFileServer(config: ServerConfig, opts: { log?: Logger } = {}): FileServer {
  const log = opts.log ?? createJsonLogger();
  const sessions = new Set<Session>();
  let db: ServerDatabase | null = null;
  let storage: Storage | null = null;
  let server: Server | null = null;
  let sweeper: NodeJS.Timeout | null = null;
  let closing: Promise<void> | null = null;

  function onConnection(socket: Socket): void {
    if (closing || !db || !storage) {
      socket.destroy();
      return;
    }
    if (sessions.size >= config.maxConnections) {
      // Answer 1607 so a client reads "server error" instead of a bare reset.
      log.event('connection-refused', {
        peer: `${socket.remoteAddress}:${socket.remotePort}`,
        reason: 'max connections',
      });
      socket.on('error', () => {});
      socket.end(encodeResponse({ code: ResponseCode.ServerError }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    socket.setNoDelay(true);
    const session = new Session(socket, { db, storage, config, log });
    sessions.add(session);
    socket.once('close', () => {
      void session.close('peer closed').then(() => sessions.delete(session));
    });
  }

  return {
    get connections() {
      return sessions.size;
    },

    address() {
      const a = server?.address();
      return a && typeof a === 'object' ? a : null;
    },

    async listen() {
      storage = new Storage(config.dataDir);
      const removed = storage.init();
      if (removed > 0) log.event('temp-files-removed', { count: removed });
      db = new ServerDatabase(join(config.dataDir, DATABASE_FILE));
      const srv = createServer({ pauseOnConnect: false }, onConnection);
      server = srv;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(config.port, config.host, () => {
          srv.off('error', reject);
          resolve();
        });
      }).catch((e) => {
        db?.close();
        throw e;
      });
      srv.on('error', (e) => log.event('server-error', { message: e.message }));
      const interval = Math.max(50, Math.min(SWEEP_INTERVAL_MS, config.idleTimeoutMs / 4));
      sweeper = setInterval(() => {
        const now = Date.now();
        for (const s of sessions) s.checkTimeout(now);
      }, interval);
      sweeper.unref();
      const addr = srv.address() as AddressInfo;
      log.event('listening', { host: addr.address, port: addr.port, data: config.dataDir });
      return addr;
    },

    close() {
      closing ??= (async () => {
        if (sweeper) clearInterval(sweeper);
        const closed = server ? new Promise<void>((r) => server!.close(() => r())) : Promise.resolve();
        await Promise.all([...sessions].map((s) => s.destroy()));
        sessions.clear();
        await closed;
        db?.close();
        log.event('stopped');
      })();
      return closing;
    },
  };
}
