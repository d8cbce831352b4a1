/**
 * What `npm start` itself prints (its banner, restart notices, a part's non-JSON output):
 * sentences on a terminal (SFT_LOG_FORMAT=pretty), one JSON line each when piped or with
 * SFT_LOG_FORMAT=json, so that its stdout stays a stream of JSON lines a program can read.
 */
export type Say = (text: string, fields?: Record<string, unknown>) => void;

export function createSay(
  format: 'json' | 'pretty',
  write: (line: string) => void = (l) => process.stdout.write(l),
  now: () => Date = () => new Date(),
): Say {
  if (format === 'pretty') return (text) => write(`${text}\n`);
  return (text, fields = {}) =>
    write(
      `${JSON.stringify({ level: 'info', time: now().toISOString(), part: 'start', ...fields, msg: text })}\n`,
    );
}

/**
 * The fields of a part's line that is not a log line (piped, or SFT_LOG_FORMAT=json): the
 * part, and the level its own prefix says. The server and the bridge write their refusals to
 * start (the data folder held by another server, a port in use, a bad setting) as
 * `error: ...` and their warnings as `warning: ...`; anything else stays at info.
 */
export function partLineFields(part: string, line: string): Record<string, unknown> {
  if (/^error:/i.test(line)) return { level: 'error', from: part };
  if (/^warning:/i.test(line)) return { level: 'warn', from: part };
  return { from: part };
}

/** What `npm start` says when the first SIGINT (Ctrl-C) or SIGTERM asks it to stop. */
export function stoppingText(signal: 'SIGINT' | 'SIGTERM'): string {
  return signal === 'SIGINT'
    ? 'Stopping (Ctrl-C again to stop at once)...'
    : 'Stopping on SIGTERM (a second SIGTERM, or Ctrl-C, stops at once)...';
}
