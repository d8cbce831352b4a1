/**
 * Server settings from flags, environment variables and port.info, in that order of
 * precedence, then defaults. Pure apart from reading port.info (injectable for tests).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ACCESS_MODES, type AccessMode, defaultAccessMode } from '../lib/invite/access';
import {
  DEFAULT_MAX_REQUEST_PAYLOAD,
  DEFAULT_SERVER_PORT,
  MAX_FILE_SIZE,
  MAX_U32,
  SEND_FILE_FIXED_SIZE,
} from '../lib/protocol';
import {
  DEFAULT_MAX_FILE_SIZE_V4,
  DEFAULT_PARTIAL_TTL_SECONDS,
  MAX_STREAM_BYTES,
} from '../lib/protocol/v4/constants';
import { LOOPBACK_CIDRS } from '../platform/address-match';
import { helpText as formatHelp, list, parseOptions, value } from '../platform/options';
import { cidr, duration, host, integer, oneOf, orOff, port, size, text, url } from '../platform/validators';
import { ServerError } from './errors';
import { DEFAULT_MAX_PARTIAL_UPLOADS } from './v4/partial-uploads';

export { parseSize } from '../platform/validators';

export interface ServerConfig {
  /** Interface to listen on; 127.0.0.1 unless told otherwise (0.0.0.0 exposes the server). */
  host: string;
  /** TCP port; 0 picks a free one (logged in the `listening` event). */
  port: number;
  /** Folder holding defensive.db, files/, tmp/, partial/, the key files, server.lock and server.pid. */
  dataDir: string;
  /** Largest declared request payload accepted; larger headers close the connection. */
  maxPayload: number;
  /** Largest original file size accepted in 1028. */
  maxFileSize: number;
  /** Simultaneous connections; more are answered 1607 and closed. */
  maxConnections: number;
  /** A connection silent this long, or this slow to deliver one request, is closed. */
  idleTimeoutMs: number;
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
  /** Connections one source (IPv4 address, IPv6 /64) may hold. */
  maxPerSource: number;
  /** Connections without a completed key exchange (1602/1605), in total and per source. */
  maxStartups: number;
  maxStartupsPerSource: number;
  /** A connection without a completed key exchange this long after it opened is closed. */
  loginGraceMs: number;
  /** Addresses whose connections may start with a PROXY v2 header (the bridge's). */
  trustedProxies: string[];
  /** Slowest average rate (bytes/s) of one upload once it is older than uploadRateGraceMs; 0 = none. */
  minUploadRate: number;
  uploadRateGraceMs: number;
  /** Log lines per second one source may cause for one kind of outcome (the rest are counted). */
  logRate: number;
  /** `invite`: a 1025 through the bridge needs a valid invite (issue 15). */
  access: AccessMode;
  /** Networks whose direct (not relayed) connections are served; others are closed at once. */
  tcpAllow: string[];
  /** The page's public URL, for the links `invite create` prints. */
  publicUrl: string;
  /** Bytes all stored files may take together; null = no limit. */
  maxTotalBytes: number | null;
  /** Free bytes an upload must leave on the data folder's file system; null = max(2 GiB, 5%). */
  diskReserve: number | null;
  /** Bytes and files one client may store; null = no limit. */
  clientMaxBytes: number | null;
  clientMaxFiles: number | null;
  /** Largest file a protocol v4 upload may declare (default DEFAULT_MAX_FILE_SIZE_V4, 64 GiB). */
  v4MaxFileSize?: number;
  /** An unfinished v4 upload without a new record this long is removed (default 24 h). */
  partialTtlMs?: number;
  /** v4 ClientHellos per source a minute (absent: DEFAULT_HANDSHAKES_PER_MINUTE). */
  handshakesPerMinute?: number;
  /** Unfinished v4 uploads kept per client (absent: DEFAULT_MAX_PARTIAL_UPLOADS). */
  maxPartialUploads?: number;
  /** Received files written past the page cache (O_DIRECT) where the file system allows; default true. */
  directWrites?: boolean;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_DATA_DIR = 'data';
export const DEFAULT_MAX_CONNECTIONS = 256;
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
export const DEFAULT_RECONNECT_PER_MINUTE = 30;
/**
 * v4 ClientHellos per source a minute (also the burst). Each costs an X25519 agreement, an
 * Ed25519 signature and a key schedule before the client proved anything; a source that
 * completes them is held to --reconnect-per-minute plus --register-per-minute (90) anyway.
 */
export const DEFAULT_HANDSHAKES_PER_MINUTE = 120;
export const DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR = 10;
export const DEFAULT_REGISTER_PER_MINUTE = 60;
export const DEFAULT_MAX_CLIENTS = 100_000;
export const DEFAULT_WAL_LIMIT = 64 * 1024 * 1024;

/** The limits against hostile peers (docs/SECURITY.md), for configs built in code (tests). */
export const HARDENING_DEFAULTS = {
  reconnectPerMinute: DEFAULT_RECONNECT_PER_MINUTE,
  clientDecryptFailuresPerHour: DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR,
  registerPerMinute: DEFAULT_REGISTER_PER_MINUTE,
  maxClients: DEFAULT_MAX_CLIENTS,
  walLimit: DEFAULT_WAL_LIMIT,
} as const satisfies Partial<ServerConfig>;

export const DEFAULT_MAX_PER_SOURCE = 32;
export const DEFAULT_MAX_STARTUPS = 128;
export const DEFAULT_MAX_STARTUPS_PER_SOURCE = 16;
export const DEFAULT_LOGIN_GRACE_MS = 15_000;
export const DEFAULT_MIN_UPLOAD_RATE = 16 * 1024;
export const DEFAULT_UPLOAD_RATE_GRACE_MS = 30_000;
export const DEFAULT_LOG_RATE = 10;
export const DEFAULT_PUBLIC_URL = 'http://localhost:3000/';
/** The free-disk reserve when none is set: the larger of these two. */
export const DEFAULT_DISK_RESERVE_BYTES = 2 * 1024 ** 3;
export const DEFAULT_DISK_RESERVE_FRACTION = 0.05;
/** The file port.info is read from the working folder when no port is given. */
export const PORT_INFO_FILE = 'port.info';

export type Command = 'serve' | 'info' | 'help';

const BYTES_MAX = Number.MAX_SAFE_INTEGER;

export interface ParsedArgs {
  command: Command;
  config: ServerConfig;
  /** Sentences to show the operator (for example: port.info missing, using 1256). */
  warnings: string[];
}

/** Shared with the owner's commands (admin-options.ts), which print the links. */
export const PUBLIC_URL_OPTION = value(publicUrl, {
  arg: 'URL',
  env: 'SFT_PUBLIC_URL',
  default: DEFAULT_PUBLIC_URL,
  help: `the page's public URL, for invite links (default ${DEFAULT_PUBLIC_URL})`,
});

/** The server's flags; its variables are SFT_<FLAG> (the server came first, so no part word). */
export const SERVER_OPTIONS = {
  host: value(host, {
    arg: 'HOST',
    env: 'SFT_HOST',
    default: DEFAULT_HOST,
    help: `interface to listen on (default ${DEFAULT_HOST}; --host 0.0.0.0 accepts other machines)`,
  }),
  port: value(port(), {
    arg: 'PORT',
    env: 'SFT_PORT',
    help: `TCP port, 0 = any free port (default: the number in ./${PORT_INFO_FILE}, else ${DEFAULT_SERVER_PORT})`,
  }),
  data: value(text, {
    arg: 'DIR',
    env: 'SFT_DATA',
    default: DEFAULT_DATA_DIR,
    help: `data folder: defensive.db (and its -wal, -shm), files/, tmp/, partial/, server.key and server.pub (the v4 key), invite.key and invite.pub, server.lock and server.pid (default ./${DEFAULT_DATA_DIR})`,
  }),
  'max-payload': value(size(SEND_FILE_FIXED_SIZE + 16, MAX_U32), {
    arg: 'BYTES',
    env: 'SFT_MAX_PAYLOAD',
    default: DEFAULT_MAX_REQUEST_PAYLOAD,
    help: `largest request payload, ${SEND_FILE_FIXED_SIZE + 16}..${MAX_U32} (default ${DEFAULT_MAX_REQUEST_PAYLOAD / 1024 / 1024}MiB; K/M/G suffixes)`,
  }),
  // From 1: 0 took empty files only, where the limits that can be off (--max-total-bytes ...)
  // read 0 as "no limit". The default is already the most the protocol carries.
  'max-file-size': value(size(1, MAX_FILE_SIZE), {
    arg: 'BYTES',
    env: 'SFT_MAX_FILE_SIZE',
    default: MAX_FILE_SIZE,
    help: `largest file accepted, 1..${MAX_FILE_SIZE} (default ${MAX_FILE_SIZE}, the protocol's limit; K/M/G suffixes)`,
  }),
  'max-connections': value(integer(1, 100_000), {
    arg: 'N',
    env: 'SFT_MAX_CONNECTIONS',
    default: DEFAULT_MAX_CONNECTIONS,
    help: `simultaneous connections (default ${DEFAULT_MAX_CONNECTIONS})`,
  }),
  'idle-timeout': value(duration(86_400), {
    arg: 'SECONDS',
    env: 'SFT_IDLE_TIMEOUT',
    default: DEFAULT_IDLE_TIMEOUT_MS,
    help: `close connections silent this long, or slower than this (+1 s per 64 KiB) to send one request (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})`,
  }),
  'reconnect-per-minute': value(integer(1, 1_000_000), {
    arg: 'N',
    env: 'SFT_RECONNECT_PER_MINUTE',
    default: DEFAULT_RECONNECT_PER_MINUTE,
    help: `1027 reconnects (and 1026s for a client with a key on file) per source address per minute, also the burst (default ${DEFAULT_RECONNECT_PER_MINUTE})`,
  }),
  'handshakes-per-minute': value(integer(1, 1_000_000), {
    arg: 'N',
    env: 'SFT_HANDSHAKES_PER_MINUTE',
    default: DEFAULT_HANDSHAKES_PER_MINUTE,
    help: `protocol v4 handshakes (ClientHellos) per source address per minute, also the burst; past it Alert 8 (default ${DEFAULT_HANDSHAKES_PER_MINUTE})`,
  }),
  'client-decrypt-failures-per-hour': value(integer(1, 1_000_000), {
    arg: 'N',
    env: 'SFT_CLIENT_DECRYPT_FAILURES_PER_HOUR',
    default: DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR,
    help: `failed 1028 decrypts per client per hour before every 1027 for it costs its source a penalty (default ${DEFAULT_CLIENT_DECRYPT_FAILURES_PER_HOUR})`,
  }),
  'register-per-minute': value(integer(1, 1_000_000), {
    arg: 'N',
    env: 'SFT_REGISTER_PER_MINUTE',
    default: DEFAULT_REGISTER_PER_MINUTE,
    help: `1025 registrations per source address per minute, also the burst (default ${DEFAULT_REGISTER_PER_MINUTE})`,
  }),
  'max-clients': value(integer(1, 1_000_000_000), {
    arg: 'N',
    env: 'SFT_MAX_CLIENTS',
    default: DEFAULT_MAX_CLIENTS,
    help: `registered clients at most; more 1025s get 1601 (default ${DEFAULT_MAX_CLIENTS})`,
  }),
  'wal-limit': value(size(1024 * 1024, 16 * 1024 ** 3), {
    arg: 'BYTES',
    env: 'SFT_WAL_LIMIT',
    default: DEFAULT_WAL_LIMIT,
    help: `WAL size past which writers wait for a truncating checkpoint, 1M..16G (default ${DEFAULT_WAL_LIMIT / 1024 / 1024}MiB; K/M/G suffixes)`,
  }),
  'max-per-source': value(integer(1, 100_000), {
    arg: 'N',
    env: 'SFT_MAX_PER_SOURCE',
    default: DEFAULT_MAX_PER_SOURCE,
    help: `connections per source address, IPv6 by /64 (default ${DEFAULT_MAX_PER_SOURCE})`,
  }),
  'max-startups': value(integer(1, 100_000), {
    arg: 'N',
    env: 'SFT_MAX_STARTUPS',
    default: DEFAULT_MAX_STARTUPS,
    help: `connections before their key exchange (1602/1605), in total (default ${DEFAULT_MAX_STARTUPS})`,
  }),
  'max-startups-per-source': value(integer(1, 100_000), {
    arg: 'N',
    env: 'SFT_MAX_STARTUPS_PER_SOURCE',
    default: DEFAULT_MAX_STARTUPS_PER_SOURCE,
    help: `connections before their key exchange, per source (default ${DEFAULT_MAX_STARTUPS_PER_SOURCE})`,
  }),
  'login-grace': value(duration(86_400), {
    arg: 'SECONDS',
    env: 'SFT_LOGIN_GRACE',
    default: DEFAULT_LOGIN_GRACE_MS,
    help: `close a connection without a key exchange this long after it opened (default ${DEFAULT_LOGIN_GRACE_MS / 1000})`,
  }),
  'trusted-proxy': list(cidr, {
    arg: 'CIDR',
    env: 'SFT_TRUSTED_PROXIES',
    default: LOOPBACK_CIDRS,
    help: `relay addresses whose connections may start with a PROXY v2 header, repeatable or comma-separated (default ${LOOPBACK_CIDRS.join(',')})`,
  }),
  'min-upload-rate': value(orOff(size(0, MAX_U32), 0), {
    arg: 'BYTES',
    env: 'SFT_MIN_UPLOAD_RATE',
    default: DEFAULT_MIN_UPLOAD_RATE,
    help: `slowest average bytes/s over one upload after --upload-rate-grace, below 4G; 0 or off = none (default ${DEFAULT_MIN_UPLOAD_RATE / 1024}K)`,
  }),
  'upload-rate-grace': value(duration(86_400), {
    arg: 'SECONDS',
    env: 'SFT_UPLOAD_RATE_GRACE',
    default: DEFAULT_UPLOAD_RATE_GRACE_MS,
    help: `age of an upload before --min-upload-rate applies (default ${DEFAULT_UPLOAD_RATE_GRACE_MS / 1000})`,
  }),
  // From 1, as --max-file-size. Up to what one STREAM carries: a larger limit let an UploadStart
  // past 1 PiB through to the record opener, which throws on it after the upload was opened
  // and reserved (a fatal Error, the reservation and the open data file left behind).
  'max-file-size-v4': value(size(1, MAX_STREAM_BYTES), {
    arg: 'BYTES',
    env: 'SFT_MAX_FILE_SIZE_V4',
    default: DEFAULT_MAX_FILE_SIZE_V4,
    help: `largest file a protocol v4 upload may declare, 1..${MAX_STREAM_BYTES} (1 PiB, the STREAM's 2^32 records; default ${DEFAULT_MAX_FILE_SIZE_V4 / 1024 ** 3}G; K/M/G/T suffixes)`,
  }),
  'partial-ttl': value(duration(365 * 86_400), {
    arg: 'SECONDS',
    env: 'SFT_PARTIAL_TTL',
    default: DEFAULT_PARTIAL_TTL_SECONDS * 1000,
    help: `remove an unfinished v4 upload after this long without a new record (default ${DEFAULT_PARTIAL_TTL_SECONDS})`,
  }),
  'max-partial-uploads': value(integer(1, 1_000_000), {
    arg: 'N',
    env: 'SFT_MAX_PARTIAL_UPLOADS',
    default: DEFAULT_MAX_PARTIAL_UPLOADS,
    help: `unfinished v4 uploads kept per client; a new one past it gets Error 6 (default ${DEFAULT_MAX_PARTIAL_UPLOADS})`,
  }),
  'direct-writes': value(oneOf(['on', 'off'] as const), {
    arg: 'on|off',
    env: 'SFT_DIRECT_WRITES',
    default: 'on',
    help: 'write received files past the page cache (O_DIRECT) where the file system allows; off: through it, so a file just received is still cached for a read (default on)',
  }),
  'log-rate': value(integer(1, 100_000), {
    arg: 'N',
    env: 'SFT_LOG_RATE',
    default: DEFAULT_LOG_RATE,
    help: `log lines per second per source for one kind of outcome, the rest counted in log-suppressed (default ${DEFAULT_LOG_RATE})`,
  }),
  access: value(oneOf(ACCESS_MODES), {
    arg: 'MODE',
    env: 'SFT_ACCESS',
    help: 'open | invite: invite needs an invite link for a registration through the bridge (default: open if --host is loopback, else invite)',
  }),
  'tcp-allow': list(cidr, {
    arg: 'CIDR',
    env: 'SFT_TCP_ALLOW',
    default: LOOPBACK_CIDRS,
    help: `networks whose direct (not relayed) connections are served; others are closed at once (default ${LOOPBACK_CIDRS.join(',')})`,
  }),
  'public-url': PUBLIC_URL_OPTION,
  // The stored-data limits: 0 or off is no limit, as it is none for --disk-reserve (so a
  // limit set in the environment can be lifted by a flag); null is what the config calls it.
  'max-total-bytes': value(orOff(size(0, BYTES_MAX), null), {
    arg: 'BYTES',
    env: 'SFT_MAX_TOTAL_BYTES',
    help: 'bytes all stored files may take together; an upload past it gets 1607; 0 or off = no limit (default: no limit; K/M/G/T suffixes)',
  }),
  'disk-reserve': value(orOff(size(0, BYTES_MAX), 0), {
    arg: 'BYTES',
    env: 'SFT_DISK_RESERVE',
    help: "free space an upload must leave on the data folder's file system; 0 or off = none (default: the larger of 2G and 5% of it)",
  }),
  'client-max-bytes': value(orOff(size(0, BYTES_MAX), null), {
    arg: 'BYTES',
    env: 'SFT_CLIENT_MAX_BYTES',
    help: 'bytes one client may store; 0 or off = no limit (default: no limit)',
  }),
  'client-max-files': value(orOff(integer(0, BYTES_MAX), null), {
    arg: 'N',
    env: 'SFT_CLIENT_MAX_FILES',
    help: 'files one client may store; 0 or off = no limit (default: no limit)',
  }),
} as const;

/** An http(s) URL, kept as text (the page the links open). */
function publicUrl(t: string, what: string): string {
  return url(['http:', 'https:'])(t, what).toString();
}

function bad(message: string): ServerError {
  return new ServerError('SERVER_ERR_BAD_ARGUMENT', message);
}

/** The port from port.info: the number alone. Missing or not a number: warn, use 1256. */
export function readPortInfo(cwd: string, warnings: string[], read = readFileSync): number {
  const path = join(cwd, PORT_INFO_FILE);
  let content: string;
  try {
    content = read(path, 'utf8');
  } catch {
    warnings.push(
      `No ${PORT_INFO_FILE} in ${cwd}; using port ${DEFAULT_SERVER_PORT}. Write a port number there or pass --port.`,
    );
    return DEFAULT_SERVER_PORT;
  }
  const t = content.trim();
  if (!/^\d+$/.test(t) || Number(t) > 65535) {
    warnings.push(`${path} does not hold a port number; using port ${DEFAULT_SERVER_PORT}.`);
    return DEFAULT_SERVER_PORT;
  }
  return Number(t);
}

export function helpText(): string {
  return formatHelp(SERVER_OPTIONS, {
    usage: [
      'Usage: npm run server -- [options]          start the file server',
      '       npm run server -- files [--data DIR] [--json]  list received files',
      '       npm run server -- invite create|list|revoke ID, clients list|remove NAME  (invite --help)',
      '       npm run server -- info [--data DIR]   print the server key fingerprint (protocol v4)',
    ].join('\n'),
    footer: [
      'Once ready it logs a "listening" line with the host and port it took: a readable line on a',
      'terminal, else one JSON line ("event":"listening"); SFT_LOG_FORMAT=json or =pretty picks either.',
      "The owner's commands (files, invite, clients) take --json: one JSON object per line, as when piped.",
      'A count (N) is a whole number of at least 1 unless its line says otherwise; only a limit whose',
      'line says "0 or off" can be turned off, and the others refuse both, naming the flag and its range.',
    ].join('\n'),
  });
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
  const parsed = parseOptions(SERVER_OPTIONS, argv, { env, positionals: true, fail: bad });
  const { values, warnings } = parsed;
  const [word, ...extra] = parsed.positionals;
  if (extra.length > 0 || (word !== undefined && word !== 'info' && word !== 'serve')) {
    throw bad(`Unknown argument "${extra[0] ?? word}". Run with --help to see the options.`);
  }
  const command: Command = parsed.help ? 'help' : ((word as Command | undefined) ?? 'serve');
  const config: ServerConfig = {
    host: values.host,
    port: values.port ?? DEFAULT_SERVER_PORT,
    dataDir: resolve(cwd, values.data),
    maxPayload: values['max-payload'],
    maxFileSize: values['max-file-size'],
    maxConnections: values['max-connections'],
    idleTimeoutMs: values['idle-timeout'],
    reconnectPerMinute: values['reconnect-per-minute'],
    handshakesPerMinute: values['handshakes-per-minute'],
    clientDecryptFailuresPerHour: values['client-decrypt-failures-per-hour'],
    registerPerMinute: values['register-per-minute'],
    maxClients: values['max-clients'],
    walLimit: values['wal-limit'],
    maxPerSource: values['max-per-source'],
    maxStartups: values['max-startups'],
    maxStartupsPerSource: values['max-startups-per-source'],
    loginGraceMs: values['login-grace'],
    trustedProxies: values['trusted-proxy'],
    minUploadRate: values['min-upload-rate'],
    uploadRateGraceMs: values['upload-rate-grace'],
    logRate: values['log-rate'],
    access: values.access ?? defaultAccessMode([values.host]),
    tcpAllow: values['tcp-allow'],
    publicUrl: values['public-url'],
    maxTotalBytes: values['max-total-bytes'] ?? null,
    diskReserve: values['disk-reserve'] ?? null,
    clientMaxBytes: values['client-max-bytes'] ?? null,
    clientMaxFiles: values['client-max-files'] ?? null,
    v4MaxFileSize: values['max-file-size-v4'],
    partialTtlMs: values['partial-ttl'],
    maxPartialUploads: values['max-partial-uploads'],
    directWrites: values['direct-writes'] !== 'off',
  };
  if (values.port === undefined && command === 'serve') config.port = readPortInfo(cwd, warnings, read);
  return { command, config, warnings };
}

/**
 * --min-upload-rate, for v3 and v4 uploads alike: `bytes` received over `activeMs` (the
 * upload's age less the time the server itself made it wait) is too slow once past the grace.
 */
export function belowMinUploadRate(
  config: Pick<ServerConfig, 'minUploadRate' | 'uploadRateGraceMs'>,
  bytes: number,
  activeMs: number,
): boolean {
  const floor = config.minUploadRate;
  return floor > 0 && activeMs > config.uploadRateGraceMs && (bytes * 1000) / activeMs < floor;
}
