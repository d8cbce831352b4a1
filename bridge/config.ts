import { ACCESS_MODES, type AccessMode, defaultAccessMode, isLoopbackHost } from '../lib/invite/access';
import {
  DEFAULT_BRIDGE_PORT,
  DEFAULT_MAX_REQUEST_PAYLOAD,
  DEFAULT_SERVER_PORT,
  DEFAULT_WEB_PORT,
  MAX_U32,
  NAME_FIELD_SIZE,
  PUBLIC_KEY_SIZE,
  REQUEST_HEADER_SIZE,
} from '../lib/protocol';
import { LOOPBACK_CIDRS } from '../platform/address-match';
import { flag, helpText, list, parseOptions, value } from '../platform/options';
import {
  cidr,
  duration,
  type HostPort,
  hostPort,
  oneOf,
  origin,
  positiveInteger,
  size,
  text,
} from '../platform/validators';
import { BridgeError } from './errors';

export type { HostPort } from '../platform/validators';

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
  /** Give up connecting to the target after this long (close 4005). */
  connectTimeoutMs: number;
  /** TCP connections that have not completed their WebSocket upgrade, in total. */
  maxPending: number;
  /** The same per client address (IPv6 by /64); with trustProxy not for the trustProxyFrom addresses. */
  maxPendingPerIp: number;
  /**
   * Refused WebSockets kept open for their close handshake (so the page can show the close
   * code), in total; past it a refusal is plain HTTP 403/503. A client that never answers the
   * close frame holds one for the close timeout (5 s).
   */
  maxRefusing: number;
  /** The same per client address (IPv6 by /64): one address cannot hold them all. */
  maxRefusingPerIp: number;
  /** /healthz reuses its last probe of the target for this long. */
  healthCacheMs: number;
  /** Log lines a second per source and kind (refusals, connection ends); the rest are counted. */
  logRate: number;
  /** PEM files; both set = listen with TLS (wss://). */
  cert?: string;
  key?: string;
  /** Take the client address from the last X-Forwarded-For entry (behind nginx/Caddy). */
  trustProxy: boolean;
  /**
   * With trustProxy: the proxy's addresses (CIDRs), the only peers whose X-Forwarded-For is
   * believed; any other peer counts under its socket address. Absent: loopback.
   */
  trustProxyFrom?: string[];
  /** Send a PROXY v2 header with the client's address on each TCP connection (default on). */
  proxyProtocol: boolean;
  /** `invite`: every WebSocket must offer a valid invite; `open`: none needed (one offered is checked). */
  access: AccessMode;
  /** The server's invite.pub (its 32-byte Ed25519 public key, base64url); required for `invite`. */
  inviteKey?: string;
  /** Bytes of unfinished WebSocket messages one client address (IPv6 /64) may have buffered. */
  maxBufferedPerIp: number;
  /** The same for all clients together. */
  maxBuffered: number;
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
  connectTimeoutMs: 5_000,
  maxPending: 128,
  maxPendingPerIp: 8,
  maxRefusing: 64,
  maxRefusingPerIp: 8,
  healthCacheMs: 5_000,
  logRate: 10,
  trustProxy: false,
  trustProxyFrom: [...LOOPBACK_CIDRS],
  proxyProtocol: true,
  access: 'open',
  maxBufferedPerIp: 2 * (DEFAULT_MAX_REQUEST_PAYLOAD + REQUEST_HEADER_SIZE),
  maxBuffered: 256 * 1024 * 1024,
};

const CONFIG_TIMEOUT_MAX_S = 2_147_483; // setTimeout's limit

/** The bridge's flags; its variables are SFT_BRIDGE_<FLAG> (BRIDGE_<FLAG> before). */
export const BRIDGE_OPTIONS = {
  listen: value(hostPort(), {
    arg: 'HOST:PORT',
    env: 'SFT_BRIDGE_LISTEN',
    oldEnv: ['BRIDGE_LISTEN'],
    default: DEFAULT_LISTEN,
    help: 'where to accept WebSocket connections; port 0 = any free port (default 127.0.0.1:8080)',
  }),
  target: value(hostPort(), {
    arg: 'HOST:PORT',
    env: 'SFT_BRIDGE_TARGET',
    oldEnv: ['BRIDGE_TARGET'],
    default: DEFAULT_CONFIG.target,
    help: `the file server to relay to (default 127.0.0.1:${DEFAULT_SERVER_PORT})`,
  }),
  origin: list(origin, {
    arg: 'URL',
    env: 'SFT_BRIDGE_ORIGINS',
    oldEnv: ['BRIDGE_ORIGINS'],
    default: DEFAULT_ORIGINS,
    help: `allowed page origin, repeatable; '*' = any (default ${DEFAULT_ORIGINS.join(' and ')})`,
  }),
  'max-payload': value(size(MIN_MAX_PAYLOAD, MAX_U32 + REQUEST_HEADER_SIZE), {
    arg: 'BYTES',
    env: 'SFT_BRIDGE_MAX_PAYLOAD',
    oldEnv: ['BRIDGE_MAX_PAYLOAD'],
    default: DEFAULT_CONFIG.maxPayload,
    help: `largest WebSocket message, request header included (default ${DEFAULT_CONFIG.maxPayload}; K/M/G suffixes)`,
  }),
  'max-connections': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_CONNECTIONS',
    oldEnv: ['BRIDGE_MAX_CONNECTIONS'],
    default: DEFAULT_CONFIG.maxConnections,
    help: `connections in total (default ${DEFAULT_CONFIG.maxConnections})`,
  }),
  'max-per-ip': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_PER_IP',
    oldEnv: ['BRIDGE_MAX_PER_IP'],
    default: DEFAULT_CONFIG.maxPerIp,
    help: `connections per client address (default ${DEFAULT_CONFIG.maxPerIp})`,
  }),
  'idle-timeout': value(duration(CONFIG_TIMEOUT_MAX_S), {
    arg: 'SECONDS',
    env: 'SFT_BRIDGE_IDLE_TIMEOUT',
    oldEnv: ['BRIDGE_IDLE_TIMEOUT'],
    default: DEFAULT_CONFIG.idleTimeoutMs,
    help: `close after no message either way (default ${DEFAULT_CONFIG.idleTimeoutMs / 1000})`,
  }),
  'handshake-timeout': value(duration(CONFIG_TIMEOUT_MAX_S), {
    arg: 'SECONDS',
    env: 'SFT_BRIDGE_HANDSHAKE_TIMEOUT',
    oldEnv: ['BRIDGE_HANDSHAKE_TIMEOUT'],
    default: DEFAULT_CONFIG.handshakeTimeoutMs,
    help: `drop unfinished HTTP upgrades (default ${DEFAULT_CONFIG.handshakeTimeoutMs / 1000})`,
  }),
  'connect-timeout': value(duration(CONFIG_TIMEOUT_MAX_S), {
    arg: 'SECONDS',
    env: 'SFT_BRIDGE_CONNECT_TIMEOUT',
    oldEnv: ['BRIDGE_CONNECT_TIMEOUT'],
    default: DEFAULT_CONFIG.connectTimeoutMs,
    help: `give up reaching the file server (default ${DEFAULT_CONFIG.connectTimeoutMs / 1000})`,
  }),
  'max-pending': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_PENDING',
    oldEnv: ['BRIDGE_MAX_PENDING'],
    default: DEFAULT_CONFIG.maxPending,
    help: `connections not yet upgraded, in total (default ${DEFAULT_CONFIG.maxPending})`,
  }),
  'max-pending-per-ip': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_PENDING_PER_IP',
    oldEnv: ['BRIDGE_MAX_PENDING_PER_IP'],
    default: DEFAULT_CONFIG.maxPendingPerIp,
    help: `not yet upgraded, per address or IPv6 /64 (default ${DEFAULT_CONFIG.maxPendingPerIp}; with --trust-proxy not for --trust-proxy-from addresses)`,
  }),
  'max-refusing': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_REFUSING',
    default: DEFAULT_CONFIG.maxRefusing,
    help: `refused WebSockets waiting for their close handshake, in total; past it plain HTTP 403/503 (default ${DEFAULT_CONFIG.maxRefusing})`,
  }),
  'max-refusing-per-ip': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_MAX_REFUSING_PER_IP',
    default: DEFAULT_CONFIG.maxRefusingPerIp,
    help: `the same per address or IPv6 /64 (default ${DEFAULT_CONFIG.maxRefusingPerIp})`,
  }),
  'health-cache': value(duration(CONFIG_TIMEOUT_MAX_S), {
    arg: 'SECONDS',
    env: 'SFT_BRIDGE_HEALTH_CACHE',
    oldEnv: ['BRIDGE_HEALTH_CACHE'],
    default: DEFAULT_CONFIG.healthCacheMs,
    help: `/healthz reuses its last probe this long (default ${DEFAULT_CONFIG.healthCacheMs / 1000})`,
  }),
  'log-rate': value(positiveInteger, {
    arg: 'N',
    env: 'SFT_BRIDGE_LOG_RATE',
    default: DEFAULT_CONFIG.logRate,
    help: `log lines a second per client address and kind, burst 5 s of it; the rest are counted in a log-suppressed line (default ${DEFAULT_CONFIG.logRate})`,
  }),
  access: value(oneOf(ACCESS_MODES), {
    arg: 'open|invite',
    env: 'SFT_BRIDGE_ACCESS',
    help: 'invite: each WebSocket must offer a valid invite link (checked with --invite-key); open: none needed, one offered is still checked (default open when --listen is loopback and without --trust-proxy, else invite)',
  }),
  'invite-key': value(text, {
    arg: 'FILE',
    env: 'SFT_BRIDGE_INVITE_KEY',
    help: "the file server's invite.pub (in its data folder): the public key invites are checked with; required with --access invite",
  }),
  cert: value(text, {
    arg: 'FILE',
    env: 'SFT_BRIDGE_CERT',
    oldEnv: ['BRIDGE_CERT'],
    help: 'PEM certificate; with --key, serve wss:// directly',
  }),
  key: value(text, {
    arg: 'FILE',
    env: 'SFT_BRIDGE_KEY',
    oldEnv: ['BRIDGE_KEY'],
    help: 'PEM private key for --cert',
  }),
  'max-buffered-per-ip': value(size(MIN_MAX_PAYLOAD, Number.MAX_SAFE_INTEGER), {
    arg: 'BYTES',
    env: 'SFT_BRIDGE_MAX_BUFFERED_PER_IP',
    default: DEFAULT_CONFIG.maxBufferedPerIp,
    help: `unfinished messages buffered per address or IPv6 /64 (default ${DEFAULT_CONFIG.maxBufferedPerIp / 1024 / 1024} MiB, two of the largest; close 4004 past it)`,
  }),
  'max-buffered': value(size(MIN_MAX_PAYLOAD, Number.MAX_SAFE_INTEGER), {
    arg: 'BYTES',
    env: 'SFT_BRIDGE_MAX_BUFFERED',
    default: DEFAULT_CONFIG.maxBuffered,
    help: `unfinished messages buffered in total (default ${DEFAULT_CONFIG.maxBuffered / 1024 / 1024} MiB)`,
  }),
  'no-proxy-protocol': flag({
    env: 'SFT_BRIDGE_NO_PROXY_PROTOCOL',
    help: 'do not start TCP connections with a PROXY v2 header (for a server that does not trust this bridge, or a reference server); variable: 1',
  }),
  'trust-proxy': flag({
    env: 'SFT_BRIDGE_TRUST_PROXY',
    oldEnv: ['BRIDGE_TRUST_PROXY'],
    help: 'client address from X-Forwarded-For (only behind your own proxy); variable: 1',
  }),
  'trust-proxy-from': list(cidr, {
    arg: 'CIDR',
    env: 'SFT_BRIDGE_TRUST_PROXY_FROM',
    default: LOOPBACK_CIDRS,
    help: `with --trust-proxy, the proxy's addresses: only their X-Forwarded-For is believed, other peers count under their own; repeatable or comma-separated (default ${LOOPBACK_CIDRS.join(',')})`,
  }),
} as const;

export const USAGE = helpText(BRIDGE_OPTIONS, {
  usage: `Usage: npm run bridge -- [options]

WebSocket bridge: relays protocol v3 and v4 frames between browsers and one file server (a
connection's first message says which: the v4 preamble or a v3 request).`,
  footer: `GET /healthz answers 200 {"target":"reachable"} or 503 {"target":"unreachable"}, from at most one
probe of the file server per --health-cache period; keep it off the public side of a proxy.
Logs are JSON lines; once ready, one with "event":"listening" and the host and port it took.
No limit here can be turned off: a count (N) is at least 1, a size at least ${MIN_MAX_PAYLOAD} bytes.`,
});

function bad(message: string): BridgeError {
  return new BridgeError('BRIDGE_ERR_CONFIG', message);
}

/** HOST:PORT (IPv6 as [address]:PORT; port 0 = any free one). Throws BRIDGE_ERR_CONFIG. */
export function parseHostPort(t: string, what: string): HostPort {
  try {
    return hostPort()(t, what);
  } catch (e) {
    throw bad((e as Error).message);
  }
}

export type ParsedArgs = { help: true } | { help: false; config: BridgeConfig; warnings: string[] };

/** Reads settings from the command line, then environment variables, then defaults. */
export function parseConfig(
  argv: readonly string[],
  env: Record<string, string | undefined> = {},
): ParsedArgs {
  const parsed = parseOptions(BRIDGE_OPTIONS, argv, { env, fail: bad });
  if (parsed.help) return { help: true };
  const v = parsed.values;
  if ((v.cert === undefined) !== (v.key === undefined)) {
    throw bad('TLS needs both --cert and --key (PEM files), or neither.');
  }
  // Behind a proxy (--trust-proxy) the listener is loopback but the clients are not: the
  // proxy brings strangers, so the default is invite there too (it used to be open).
  const behindProxy = v['trust-proxy'];
  const access = v.access ?? (behindProxy ? 'invite' : defaultAccessMode([v.listen.host]));
  if (access === 'invite' && v['invite-key'] === undefined) {
    const why = behindProxy
      ? ' (the default with --trust-proxy: the proxy brings clients from elsewhere)'
      : ` (the default when listening on ${v.listen.host}, not loopback)`;
    throw bad(
      `Invite mode${v.access === undefined ? why : ''} ` +
        "needs --invite-key FILE (SFT_BRIDGE_INVITE_KEY): the file server's invite.pub, from its data folder. " +
        'Or ask for --access open (anyone who reaches the bridge may then register).',
    );
  }
  const config: BridgeConfig = {
    listen: v.listen,
    target: v.target,
    origins: v.origin,
    maxPayload: v['max-payload'],
    maxConnections: v['max-connections'],
    maxPerIp: v['max-per-ip'],
    idleTimeoutMs: v['idle-timeout'],
    handshakeTimeoutMs: v['handshake-timeout'],
    connectTimeoutMs: v['connect-timeout'],
    maxPending: v['max-pending'],
    maxPendingPerIp: v['max-pending-per-ip'],
    maxRefusing: v['max-refusing'],
    maxRefusingPerIp: v['max-refusing-per-ip'],
    healthCacheMs: v['health-cache'],
    logRate: v['log-rate'],
    cert: v.cert,
    key: v.key,
    trustProxy: v['trust-proxy'],
    trustProxyFrom: v['trust-proxy-from'],
    proxyProtocol: !v['no-proxy-protocol'],
    access,
    inviteKey: v['invite-key'],
    maxBufferedPerIp: v['max-buffered-per-ip'],
    maxBuffered: v['max-buffered'],
  };
  const warnings = [...parsed.warnings];
  if (access === 'open' && !isLoopbackHost(config.listen.host)) {
    warnings.push(
      `open access on ${config.listen.host}, not loopback: whoever reaches the bridge may register and send files (--access invite gates it).`,
    );
  } else if (access === 'open' && behindProxy) {
    warnings.push(
      'open access with --trust-proxy: whoever reaches the proxy may register and send files (--access invite gates it).',
    );
  }
  if (!config.proxyProtocol) {
    // Every relayed client then reaches the file server from this bridge's address.
    warnings.push(
      "--no-proxy-protocol: the file server sees every client as this bridge's address, so its per-source limits count them all as one source, and one client can use them up for all (16 idle WebSockets from one address kept every other address from registering).",
    );
  }
  if (access === 'invite' && !config.proxyProtocol) {
    warnings.push(
      'invite mode with --no-proxy-protocol: the bridge checks invites, but the file server never learns them (no binding, no quotas).',
    );
  }
  return { help: false, config, warnings };
}
