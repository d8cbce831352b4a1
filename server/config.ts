/**
 * Server settings from flags, environment variables and port.info, in that order of
 * precedence, then defaults. Pure apart from reading port.info (injectable for tests).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  DEFAULT_SERVER_PORT,
  MAX_FILE_SIZE,
  MAX_U32,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';
import { ServerError } from './errors';

export interface ServerConfig {
  /** Interface to listen on; 127.0.0.1 unless told otherwise (0.0.0.0 exposes the server). */
  host: string;
  /** TCP port; 0 picks a free one (printed on start). */
  port: number;
  /** Folder holding defensive.db, files/ and tmp/. */
  dataDir: string;
  /** Largest declared request payload accepted; larger headers close the connection. */
  maxPayload: number;
  /** Largest original file size accepted in 1028. */
  maxFileSize: number;
  /** Simultaneous connections; more are answered 1607 and closed. */
  maxConnections: number;
  /** A connection silent this long, or this slow to deliver one request, is closed. */
  idleTimeoutMs: number;
  // ---- limits against hostile peers (issue 14); see HARDENING_OPTIONS below
  /** 1027s per source address (IPv4, IPv6 /64) per minute, also the burst. */
  reconnectPerMinute: number;
  /** Keys lost to a failed 1028 decrypt per client per hour before its 1027s cost a penalty. */
  clientDecryptFailuresPerHour: number;
  /** 1025s per source address per minute, also the burst. */
  registerPerMinute: number;
  /** Registered clients at most; more 1025s get 1601. */
  maxClients: number;
  /** WAL size past which writers wait for a checkpoint that truncates it. */
  walLimit: number;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = 'data';
export const DEFAULT_MAX_CONNECTIONS = 64;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** The file port.info is read from the working folder when no port is given. */
export const PORT_INFO_FILE = 'port.info';

export type Command = 'serve' | 'files' | 'help';

export interface ParsedArgs {
  command: Command;
  config: ServerConfig;
  /** Sentences to show the operator (for example: port.info missing, using 1256). */
  warnings: string[];
}

interface OptionSpec {
  flag: string;
  env: string;
  key: keyof ServerConfig;
  arg: string;
  help: string;
  parse: (text: string, what: string) => string | number;
}

const BASE_OPTIONS: readonly OptionSpec[] = [
  {
    flag: '--host',
    env: 'SFT_HOST',
    key: 'host',
    arg: 'HOST',
    help: `interface to listen on (default ${DEFAULT_HOST}; --host 0.0.0.0 accepts other machines)`,
    parse: parseHost,
  },
  {
    flag: '--port',
    env: 'SFT_PORT',
    key: 'port',
    arg: 'PORT',
    help: `TCP port, 0 = any free port (default: the number in ./${PORT_INFO_FILE}, else ${DEFAULT_SERVER_PORT})`,
    parse: parsePort,
  },
  {
    flag: '--data',
    env: 'SFT_DATA',
    key: 'dataDir',
    arg: 'DIR',
    help: `data folder: defensive.db, files/, tmp/ (default ./${DEFAULT_DATA_DIR})`,
    parse: (t, what) => {
      if (t === '') throw bad(`${what} is empty; give a folder.`);
      return t;
    },
  },
  {
    flag: '--max-payload',
    env: 'SFT_MAX_PAYLOAD',
    key: 'maxPayload',
    arg: 'BYTES',
    help: `largest request payload (default ${DEFAULT_MAX_REQUEST_PAYLOAD / 1024 / 1024}MiB; K/M/G suffixes)`,
    parse: (t, what) => parseSize(t, what, SEND_FILE_FIXED_SIZE + 16, MAX_U32),
  },
  {
    flag: '--max-file-size',
    env: 'SFT_MAX_FILE_SIZE',
    key: 'maxFileSize',
    arg: 'BYTES',
    help: `largest file accepted (default ${MAX_FILE_SIZE}, the protocol's limit; K/M/G suffixes)`,
    parse: (t, what) => parseSize(t, what, 0, MAX_FILE_SIZE),
  },
  {
    flag: '--max-connections',
    env: 'SFT_MAX_CONNECTIONS',
    key: 'maxConnections',
    arg: 'N',
    help: `simultaneous connections (default ${DEFAULT_MAX_CONNECTIONS})`,
    parse: (t, what) => parseInteger(t, what, 1, 100_000),
  },
  {
    flag: '--idle-timeout',
    env: 'SFT_IDLE_TIMEOUT',
    key: 'idleTimeoutMs',
    arg: 'SECONDS',
    help: `close connections silent this long, or slower than this (+1 s per 64 KiB) to send one request (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})`,
    parse: parseSeconds,
  },
];

// ---- limits against hostile peers (issue 14): a separate block for the options-table port.
export const DEFAULT_RECONNECT_PER_MINUTE = 30;
export const DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR = 10;
export const DEFAULT_REGISTER_PER_MINUTE = 60;
export const DEFAULT_MAX_CLIENTS = 100_000;
export const DEFAULT_WAL_LIMIT = 64 * 1024 * 1024;

export const HARDENING_DEFAULTS = {
  reconnectPerMinute: DEFAULT_RECONNECT_PER_MINUTE,
  clientDecryptFailuresPerHour: DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR,
  registerPerMinute: DEFAULT_REGISTER_PER_MINUTE,
  maxClients: DEFAULT_MAX_CLIENTS,
  walLimit: DEFAULT_WAL_LIMIT,
} as const satisfies Partial<ServerConfig>;

const HARDENING_OPTIONS: readonly OptionSpec[] = [
  {
    flag: '--reconnect-per-minute',
    env: 'SFT_RECONNECT_PER_MINUTE',
    key: 'reconnectPerMinute',
    arg: 'N',
    help: `1027 reconnects per source address per minute, also the burst (default ${DEFAULT_RECONNECT_PER_MINUTE})`,
    parse: (t, what) => parseInteger(t, what, 1, 1_000_000),
  },
  {
    flag: '--client-decrypt-failures-per-hour',
    env: 'SFT_CLIENT_DECRYPT_FAILURES_PER_HOUR',
    key: 'clientDecryptFailuresPerHour',
    arg: 'N',
    help: `failed 1028 decrypts per client per hour before every 1027 for it costs its source a penalty (default ${DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR})`,
    parse: (t, what) => parseInteger(t, what, 1, 1_000_000),
  },
  {
    flag: '--register-per-minute',
    env: 'SFT_REGISTER_PER_MINUTE',
    key: 'registerPerMinute',
    arg: 'N',
    help: `1025 registrations per source address per minute, also the burst (default ${DEFAULT_REGISTER_PER_MINUTE})`,
    parse: (t, what) => parseInteger(t, what, 1, 1_000_000),
  },
  {
    flag: '--max-clients',
    env: 'SFT_MAX_CLIENTS',
    key: 'maxClients',
    arg: 'N',
    help: `registered clients at most; more 1025s get 1601 (default ${DEFAULT_MAX_CLIENTS})`,
    parse: (t, what) => parseInteger(t, what, 1, 1_000_000_000),
  },
  {
    flag: '--wal-limit',
    env: 'SFT_WAL_LIMIT',
    key: 'walLimit',
    arg: 'BYTES',
    help: `WAL size past which writers wait for a truncating checkpoint (default ${DEFAULT_WAL_LIMIT / 1024 / 1024}MiB; K/M/G suffixes)`,
    parse: (t, what) => parseSize(t, what, 1024 * 1024, 16 * 1024 ** 3),
  },
];

const OPTIONS: readonly OptionSpec[] = [...BASE_OPTIONS, ...HARDENING_OPTIONS];

function bad(message: string): ServerError {
  return new ServerError('SERVER_ERR_BAD_ARGUMENT', message);
}

function parseHost(text: string, what: string): string {
  if (!/^[A-Za-z0-9.:_-]+$/.test(text)) throw bad(`${what} "${text}" is not a host name or address.`);
  return text;
}

function parseInteger(text: string, what: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw bad(`${what} "${text}" is not a whole number.`);
  const n = Number(text.trim());
  if (n < min || n > max) throw bad(`${what} ${n} is out of range ${min}..${max}.`);
  return n;
}

function parsePort(text: string, what: string): number {
  return parseInteger(text, what, 0, 65535);
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** "1048576", "64K", "16MiB", "4G" (binary units). */
export function parseSize(text: string, what: string, min: number, max: number): number {
  const m = /^(\d+)\s*([kmg]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw bad(`${what} "${text}" is not a size such as 1048576, 64K, 16M or 2G.`);
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (n < min || n > max) throw bad(`${what} ${n} is out of range ${min}..${max} bytes.`);
  return n;
}

function parseSeconds(text: string, what: string): number {
  const s = Number(text.trim());
  if (text.trim() === '' || !Number.isFinite(s) || s <= 0 || s > 86_400) {
    throw bad(`${what} "${text}" is not a number of seconds between 0 and 86400.`);
  }
  return Math.round(s * 1000);
}

/** The port from port.info: the number alone. Missing or not a number: warn, use 1256. */
export function readPortInfo(cwd: string, warnings: string[], read = readFileSync): number {
  const path = join(cwd, PORT_INFO_FILE);
  let text: string;
  try {
    text = read(path, 'utf8');
  } catch {
    warnings.push(
      `No ${PORT_INFO_FILE} in ${cwd}; using port ${DEFAULT_SERVER_PORT}. Write a port number there or pass --port.`,
    );
    return DEFAULT_SERVER_PORT;
  }
  const t = text.trim();
  if (!/^\d+$/.test(t) || Number(t) > 65535) {
    warnings.push(`${path} does not hold a port number; using port ${DEFAULT_SERVER_PORT}.`);
    return DEFAULT_SERVER_PORT;
  }
  return Number(t);
}

export function helpText(): string {
  const lines = [
    'Usage: npm run server -- [options]          start the file server',
    '       npm run server -- files [--data DIR]  list received files',
    '',
    'Options (environment variable in brackets; flags win):',
  ];
  for (const o of OPTIONS) lines.push(`  ${`${o.flag} ${o.arg}`.padEnd(24)} ${o.help} [${o.env}]`);
  lines.push(`  ${'--help'.padEnd(24)} show this text`);
  return lines.join('\n');
}

/**
 * Parses `argv` (without node and script). Throws ServerError SERVER_ERR_BAD_ARGUMENT with a
 * sentence naming the offending flag.
 */
export function parseArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  cwd = process.cwd(),
  read = readFileSync,
): ParsedArgs {
  const warnings: string[] = [];
  let command: Command = 'serve';
  const given: Partial<Record<keyof ServerConfig, string | number>> = {};
  const args = [...argv];
  if (args[0] === 'files' || args[0] === 'serve') command = args.shift() as Command;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') return { command: 'help', config: defaults(cwd), warnings };
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const spec = OPTIONS.find((o) => o.flag === flag);
    if (!spec) throw bad(`Unknown argument "${a}". Run with --help to see the options.`);
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else value = args[++i];
    if (value === undefined) throw bad(`${flag} needs a value (${spec.arg}).`);
    given[spec.key] = spec.parse(value, flag);
  }
  for (const spec of OPTIONS) {
    const v = env[spec.env];
    if (given[spec.key] === undefined && v !== undefined && v !== '')
      given[spec.key] = spec.parse(v, spec.env);
  }
  const config = { ...defaults(cwd), ...given } as ServerConfig;
  config.dataDir = resolve(cwd, config.dataDir);
  if (given.port === undefined && command === 'serve') config.port = readPortInfo(cwd, warnings, read);
  return { command, config, warnings };
}

function defaults(cwd: string): ServerConfig {
  return {
    host: DEFAULT_HOST,
    port: DEFAULT_SERVER_PORT,
    dataDir: resolve(cwd, DEFAULT_DATA_DIR),
    maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD,
    maxFileSize: MAX_FILE_SIZE,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_MS,
    ...HARDENING_DEFAULTS,
  };
}
