/**
 * The bridge's log: pino through platform/log (JSON lines when piped, readable on a
 * terminal), one child logger per connection. Never payload bytes, names or keys: the
 * bridge logs who connected, for how long, how many bytes and how it ended.
 */
import { createLogger, type Logger } from '../platform/log';

export type { Logger } from '../platform/log';

/** The fields of the one `connection` line each connection ends with. */
export interface ConnectionRecord {
  event: 'connection';
  /** Client address (from X-Forwarded-For with --trust-proxy). */
  peer: string;
  origin: string | null;
  durationMs: number;
  /** WebSocket message bytes from the browser, relayed to the file server. */
  bytesIn: number;
  /** Response bytes from the file server, relayed to the browser. */
  bytesOut: number;
  closeCode: number;
  closeReason: string;
  /** Who ended it: the browser, the bridge (a refusal or timeout), or the file server. */
  closedBy: 'client' | 'bridge' | 'target';
  /** The ID of the invite offered (the token itself is never logged). */
  inviteId?: string;
}

export interface BridgeEvent {
  event: string;
  [field: string]: unknown;
}

export function createBridgeLogger(): Logger {
  return createLogger({ part: 'bridge' });
}
