import { parseArgs } from 'node:util';
import {
  DEFAULT_BRIDGE_PORT,
  DEFAULT_MAX_REQUEST_PAYLOAD,
  DEFAULT_SERVER_PORT,
  DEFAULT_WEB_PORT,
  NAME_FIELD_SIZE,
  PUBLIC_KEY_SIZE,
  REQUEST_HEADER_SIZE,
} from '../lib/protocol';
import { BridgeError } from './errors';

export interface HostPort {
  host: string;
  port: number;
}

export interface BridgeConfig {
  /** Where the bridge accepts WebSocket (and /healthz) connections. */
  listen: HostPort;
  /** The one file server every WebSocket is relayed to. Never chosen by a client. */
  target: HostPort;
  /** Allowed Origin header values; '*' allows any. A request without Origin (not a browser) is allowed. */
  origins: string[];
  /** Largest WebSocket message in bytes: request header + largest request payload. */
  maxPayload: number;
  maxConnections: number;
  maxPerIp: number;
  /** Close a connection after this long without a message either way. */
  idleTimeoutMs: number;
  /** Drop a TCP connection that has not completed its HTTP upgrade by then. */
  handshakeTimeoutMs: number;
  /** TCP connections not yet upgraded to WebSocket, in total. */
  maxPending: number;
  /** Not-yet-upgraded connections per source address (IPv6: per /64); not applied with trustProxy. */
  maxPendingPerIp: number;
  /** /healthz reuses its last probe of the target for this long. */
  healthCacheMs: number;
  /** Give up connecting to the target after this long (close 4005). */
  connectTimeoutMs: number;
  /** PEM files; both set = listen with TLS (wss://). */
  cert?: string;
  key?: string;
  /** Take the client address from the last X-Forwarded-For entry (behind nginx/Caddy). */
  trustProxy: boolean;
}

/** Smallest useful message limit: the largest fixed-size request (1026) must fit. */
export const MIN_MAX_PAYLOAD = REQUEST_HEADER_SIZE + NAME_FIELD_SIZE + PUBLIC_KEY_SIZE;

export const DEFAULT_LISTEN: HostPort = { host: '127.0.0.1', port: DEFAULT_BRIDGE_PORT };
export const DEFAULT_ORIGINS = [
  `http://localhost:${DEFAULT_WEB_PORT}`,
  `http://127.0.0.1:${DEFAULT_WEB_PORT}`,
];

export const DEFAULT_CONFIG: BridgeConfig = {
  listen: DEFAULT_LISTEN,
  target: { host: '127.0.0.1', port: DEFAULT_SERVER_PORT },
  origins: DEFAULT_ORIGINS,
  maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD + REQUEST_HEADER_SIZE,
  maxConnections: 256,
  maxPerIp: 16,
  idleTimeoutMs: 300_000,
  handshakeTimeoutMs: 10_000,
  maxPending: 128,
  maxPendingPerIp: 8,
  healthCacheMs: 5_000,
  connectTimeoutMs: 5_000,
  trustProxy: false,
};

export const USAGE = `Usage: npm run bridge -- [options]

WebSocket bridge: relays protocol v3 frames between browsers and one file server.

  --listen HOST:PORT        where to accept WebSocket connections   (default 127.0.0.1:${DEFAULT_BRIDGE_PORT})   BRIDGE_LISTEN
  --target HOST:PORT        the file server to relay to             (default 127.0.0.1:${DEFAULT_SERVER_PORT})   BRIDGE_TARGET
  --origin URL              allowed page origin, repeatable; '*' = any
                            (default ${DEFAULT_ORIGINS.join(' and ')})   BRIDGE_ORIGINS (comma-separated)
  --max-payload BYTES       largest WebSocket message (default ${DEFAULT_CONFIG.maxPayload})   BRIDGE_MAX_PAYLOAD
  --max-connections N       connections in total (default ${DEFAULT_CONFIG.maxConnections})   BRIDGE_MAX_CONNECTIONS
  --max-per-ip N            connections per client address (default ${DEFAULT_CONFIG.maxPerIp})   BRIDGE_MAX_PER_IP
  --idle-timeout SECONDS    close after no message either way (default ${DEFAULT_CONFIG.idleTimeoutMs / 1000})   BRIDGE_IDLE_TIMEOUT
  --handshake-timeout SECONDS  drop unfinished HTTP upgrades (default ${DEFAULT_CONFIG.handshakeTimeoutMs / 1000})   BRIDGE_HANDSHAKE_TIMEOUT
  --max-pending N           connections not yet upgraded, in total (default ${DEFAULT_CONFIG.maxPending})   BRIDGE_MAX_PENDING
  --max-pending-per-ip N    not yet upgraded, per address or IPv6 /64 (default ${DEFAULT_CONFIG.maxPendingPerIp}; off with --trust-proxy)   BRIDGE_MAX_PENDING_PER_IP
  --health-cache SECONDS    /healthz reuses its last probe this long (default ${DEFAULT_CONFIG.healthCacheMs / 1000})   BRIDGE_HEALTH_CACHE
  --connect-timeout SECONDS give up reaching the file server (default ${DEFAULT_CONFIG.connectTimeoutMs / 1000})   BRIDGE_CONNECT_TIMEOUT
  --cert FILE --key FILE    PEM certificate and key: serve wss:// directly   BRIDGE_CERT, BRIDGE_KEY
  --trust-proxy             client address from X-Forwarded-For (only behind your own proxy)   BRIDGE_TRUST_PROXY=1
  --help                    this text

GET /healthz answers 200 {"target":"reachable"} or 503 {"target":"unreachable"}, from at most one
probe of the file server per --health-cache period; keep it off the public side of a proxy.
Command-line options override environment variables.`;

export function parseHostPort(text: string, what: string): HostPort {
  const at = text.lastIndexOf(':');
  const host = (at < 0 ? '' : text.slice(0, at)).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(at + 1));
  if (at < 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new BridgeError(
      'BRIDGE_ERR_CONFIG',
      `${what} must be HOST:PORT (like 127.0.0.1:8080), got "${text}".`,
    );
  }
  return { host, port };
}

function positiveInt(text: string, what: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new BridgeError(
      'BRIDGE_ERR_CONFIG',
      `${what} must be a whole number of at least ${min}, got "${text}".`,
    );
  }
  return n;
}

function seconds(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    throw new BridgeError('BRIDGE_ERR_CONFIG', `${what} must be a number of seconds above 0, got "${text}".`);
  }
  return Math.round(n * 1000);
}

function checkOrigin(origin: string): string {
  if (origin === '*') return origin;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new BridgeError(
      'BRIDGE_ERR_CONFIG',
      `--origin must be a URL like https://files.example.org, got "${origin}".`,
    );
  }
  // Browsers send the serialized origin: scheme://host[:port], no path, no trailing slash.
  return url.origin;
}

export type ParsedArgs = { help: true } | { help: false; config: BridgeConfig };

/** Reads settings from the command line, then environment variables, then defaults. */
export function parseConfig(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
): ParsedArgs {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (err) {
    throw new BridgeError('BRIDGE_ERR_CONFIG', `${(err as Error).message} (see --help).`);
  }
  if (values.help) return { help: true };
  const pick = (flag: string | undefined, envName: string) => flag ?? env[envName];
  const config: BridgeConfig = { ...DEFAULT_CONFIG };

  const listen = pick(values.listen, 'BRIDGE_LISTEN');
  if (listen !== undefined) config.listen = parseHostPort(listen, '--listen');
  const target = pick(values.target, 'BRIDGE_TARGET');
  if (target !== undefined) config.target = parseHostPort(target, '--target');
  const origins = values.origin?.length ? values.origin : env.BRIDGE_ORIGINS?.split(',').map((s) => s.trim());
  if (origins?.length) config.origins = origins.filter((o) => o !== '').map(checkOrigin);

  const maxPayload = pick(values['max-payload'], 'BRIDGE_MAX_PAYLOAD');
  if (maxPayload !== undefined) config.maxPayload = positiveInt(maxPayload, '--max-payload', MIN_MAX_PAYLOAD);
  const maxConnections = pick(values['max-connections'], 'BRIDGE_MAX_CONNECTIONS');
  if (maxConnections !== undefined) config.maxConnections = positiveInt(maxConnections, '--max-connections');
  const maxPerIp = pick(values['max-per-ip'], 'BRIDGE_MAX_PER_IP');
  if (maxPerIp !== undefined) config.maxPerIp = positiveInt(maxPerIp, '--max-per-ip');

  const idle = pick(values['idle-timeout'], 'BRIDGE_IDLE_TIMEOUT');
  if (idle !== undefined) config.idleTimeoutMs = seconds(idle, '--idle-timeout');
  const handshake = pick(values['handshake-timeout'], 'BRIDGE_HANDSHAKE_TIMEOUT');
  if (handshake !== undefined) config.handshakeTimeoutMs = seconds(handshake, '--handshake-timeout');
  const maxPending = pick(values['max-pending'], 'BRIDGE_MAX_PENDING');
  if (maxPending !== undefined) config.maxPending = positiveInt(maxPending, '--max-pending');
  const maxPendingPerIp = pick(values['max-pending-per-ip'], 'BRIDGE_MAX_PENDING_PER_IP');
  if (maxPendingPerIp !== undefined)
    config.maxPendingPerIp = positiveInt(maxPendingPerIp, '--max-pending-per-ip');
  const healthCache = pick(values['health-cache'], 'BRIDGE_HEALTH_CACHE');
  if (healthCache !== undefined) config.healthCacheMs = seconds(healthCache, '--health-cache');
  const connectTimeout = pick(values['connect-timeout'], 'BRIDGE_CONNECT_TIMEOUT');
  if (connectTimeout !== undefined) config.connectTimeoutMs = seconds(connectTimeout, '--connect-timeout');

  config.cert = pick(values.cert, 'BRIDGE_CERT');
  config.key = pick(values.key, 'BRIDGE_KEY');
  if ((config.cert === undefined) !== (config.key === undefined)) {
    throw new BridgeError('BRIDGE_ERR_CONFIG', 'TLS needs both --cert and --key (PEM files), or neither.');
  }
  config.trustProxy = values['trust-proxy'] === true || /^(1|true|yes)$/i.test(env.BRIDGE_TRUST_PROXY ?? '');
  return { help: false, config };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      listen: { type: 'string' },
      target: { type: 'string' },
      origin: { type: 'string', multiple: true },
      'max-payload': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-per-ip': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'handshake-timeout': { type: 'string' },
      'connect-timeout': { type: 'string' },
      'max-pending': { type: 'string' },
      'max-pending-per-ip': { type: 'string' },
      'health-cache': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'trust-proxy': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
