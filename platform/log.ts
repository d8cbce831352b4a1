/**
 * The one logging setup of every Node part (server, bridge, scripts): pino, JSON lines when
 * stdout is not a terminal (or SFT_LOG_FORMAT=json), readable lines through pino-pretty on a
 * terminal (or SFT_LOG_FORMAT=pretty). Key material never reaches a line: the redact paths
 * below censor any field of that name at the top level or one level down.
 *
 * Machine-readable events carry an `event` field ("listening" with `host` and `port` when a
 * part is ready); tests and the bench read those, never prose. A line may also carry a `msg`
 * for people ("alice sent report.pdf, 2.1 MiB"): on a terminal that sentence is the line; a
 * line without one shows its event and fields.
 *
 * Lines carry names senders chose: no line, JSON or readable, writes a control, bidi
 * formatting or separator character raw (lib/protocol/name-chars.ts; JSON gets `\u009b`
 * escapes, the same value, readable lines `\u{9B}`), whichever field or sentence holds it.
 */
import { createRequire } from 'node:module';
import pino, { type DestinationStream, type Logger } from 'pino';
import { escapeUnsafe, escapeUnsafeJson } from '../lib/protocol/name-chars';

// Loaded only for a terminal: pino-pretty and its dependencies cost about 6 MiB of RSS in
// every process that logs JSON.
const loadPretty = () => createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');

export type { Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

/** Field names whose values are secrets wherever they appear. */
const REDACT_KEYS = ['aesKey', 'key', 'privateKey', 'token', 'invite', 'secret'];
export const REDACT_PATHS = REDACT_KEYS.flatMap((k) => [k, `*.${k}`]);

/** JSON unless stdout is a terminal; SFT_LOG_FORMAT overrides. */
export function logFormat(
  env: NodeJS.ProcessEnv = process.env,
  isTTY = process.stdout.isTTY === true,
): LogFormat {
  const f = env.SFT_LOG_FORMAT;
  if (f === 'json' || f === 'pretty') return f;
  return isTTY ? 'pretty' : 'json';
}

export interface CreateLoggerOptions {
  /** The part: "server", "bridge", ... (the `part` field of every line). */
  part: string;
  format?: LogFormat;
  level?: string;
  /** Where lines go (default stdout, synchronously so a crash loses nothing). */
  destination?: DestinationStream;
}

export function createLogger(opts: CreateLoggerOptions): Logger {
  const format = opts.format ?? logFormat();
  const options: pino.LoggerOptions = {
    level: opts.level ?? process.env.SFT_LOG_LEVEL ?? 'info',
    base: { part: opts.part },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    hooks: { streamWrite: escapeUnsafeJson },
  };
  if (format === 'pretty' && !opts.destination) {
    return pino(options, loadPretty()({ ...prettyOptions(), sync: true }));
  }
  return pino(options, opts.destination ?? pino.destination({ dest: 1, sync: true }));
}

/** Fields a readable line leaves out: pino's own, and what the time and level already say. */
const NOT_SHOWN = new Set(['level', 'time', 'pid', 'hostname', 'part', 'msg', 'event']);

/** One log object as the words after the time and level: its `msg`, else its event and fields. */
export function readableMessage(log: Record<string, unknown>): string {
  const part = typeof log.part === 'string' ? `${log.part}: ` : '';
  if (typeof log.msg === 'string' && log.msg !== '') return escapeUnsafe(part + log.msg);
  const fields = Object.entries(log)
    .filter(([k]) => !NOT_SHOWN.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return escapeUnsafe(part + [log.event ?? '', ...fields].filter(Boolean).join(' '));
}

/** The pino-pretty settings of every readable log (a part's own, and `npm start`'s). */
export function prettyOptions(): import('pino-pretty').PrettyOptions {
  return {
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:HH:MM:ss',
    // `name` is the client's name on the server's lines: the message says it already.
    ignore: 'pid,hostname,name',
    hideObject: true,
    messageFormat: (log) => readableMessage(log),
  };
}

/** Turns one JSON log line into its readable form (npm start shows its parts' lines so). */
export function readableLineFormatter(): (jsonLine: string) => string {
  const format = loadPretty().prettyFactory(prettyOptions());
  return (line) => format(line).replace(/\n$/, '');
}

/** A logger that keeps every line as an object (tests). */
export function createMemoryLogger(part = 'test'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination: DestinationStream = {
    write(line: string) {
      lines.push(JSON.parse(line) as Record<string, unknown>);
    },
  };
  return { log: createLogger({ part, format: 'json', destination }), lines };
}
