/**
 * Structured logs: one JSON object per line on stdout. Never payload bytes, names or
 * keys: the bridge logs who connected, for how long, how many bytes and how it ended.
 */
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
}

export interface BridgeEvent {
  event: string;
  [field: string]: unknown;
}

export type Logger = (record: ConnectionRecord | BridgeEvent) => void;

export const jsonLineLogger: Logger = (record) => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
};

export const silentLogger: Logger = () => {};
