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
