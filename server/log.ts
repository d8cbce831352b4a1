/**
 * Structured log: one JSON line per request (a 1028 file counts as one request, logged when
 * it completes or fails) and one per server event. Never key material: entries carry IDs,
 * names, codes, sizes and times only.
 */

export interface RequestLogEntry {
  /** Client ID as hex (all zeros before registration). */
  client: string;
  /** Client name when known. */
  name?: string;
  /** Request code (1025..1031, or another number for an invalid header). */
  code: number;
  /** Response code sent, or null when none (1030, packets before the last). */
  result: number | null;
  /** Request bytes consumed (all packets for a 1028 file). */
  bytes: number;
  ms: number;
  /** Stable error code when the request failed. */
  error?: string;
  /** Underlying code of a storage failure (SQLITE_FULL, ENOSPC ...). */
  detail?: string;
  /** Original file name for 1028..1031. */
  file?: string;
  /** Packets of a 1028 file. */
  packets?: number;
  /** Remote address. */
  peer?: string;
}

export interface Logger {
  request(entry: RequestLogEntry): void;
  event(event: string, fields?: Record<string, unknown>): void;
}

/** Writes JSON lines to `write` (stdout by default). */
export function createJsonLogger(write: (line: string) => void = (l) => process.stdout.write(l)): Logger {
  const emit = (obj: Record<string, unknown>) => write(`${JSON.stringify(obj)}\n`);
  return {
    request: (entry) =>
      emit({ time: new Date().toISOString(), ...entry, ms: Math.round(entry.ms * 10) / 10 }),
    event: (event, fields) => emit({ time: new Date().toISOString(), event, ...fields }),
  };
}

/** Keeps entries in memory (tests) and writes nothing. */
export function createMemoryLogger(): Logger & {
  requests: RequestLogEntry[];
  events: Record<string, unknown>[];
} {
  const requests: RequestLogEntry[] = [];
  const events: Record<string, unknown>[] = [];
  return {
    requests,
    events,
    request: (e) => requests.push(e),
    event: (event, fields) => events.push({ event, ...fields }),
  };
}
