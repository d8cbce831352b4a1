/**
 * Where the browser finds the bridge, from configuration only (never from a request's Host
 * or X-Forwarded-* headers, which the client chooses), read per request so that one build
 * serves any deployment:
 * - SFT_BRIDGE_URL (e.g. `wss://files.example.org/bridge`) when set;
 * - otherwise the host of SFT_PUBLIC_ORIGIN (the page's public URL) on SFT_BRIDGE_PORT
 *   (default 8080), `wss:` when that origin is https, else `ws:`;
 * - otherwise `ws://127.0.0.1:SFT_BRIDGE_PORT/` (the loopback setup of `npm start`).
 * Also builds the connect-src CSP that names only that bridge. Requests for hosts that are
 * not configured never get here: proxy.ts answers them 421 (app/allowed-hosts.ts).
 */
import { connection } from 'next/server';
import { type AccessMode, defaultAccessMode, parseAccessMode } from '@/lib/invite';
import { DEFAULT_BRIDGE_PORT } from '@/lib/protocol';

export interface RuntimeConfig {
  /** WebSocket URL of the bridge. */
  bridgeUrl: string;
  /**
   * SFT_ACCESS (open | invite); by default `open` only while the bridge and the page's public
   * origin are loopback (the rule of every part: lib/invite/access.ts), else `invite`.
   */
  access: AccessMode;
  /** Set when SFT_BRIDGE_URL is present but unusable: shown to the person. */
  configError?: string;
}

function validBridgeUrl(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/** The bridge on SFT_BRIDGE_PORT at SFT_PUBLIC_ORIGIN's host, or on loopback. */
function defaultBridgeUrl(env: Record<string, string | undefined>): string {
  const portText = env.SFT_BRIDGE_PORT?.trim() || String(DEFAULT_BRIDGE_PORT);
  const port = /^\d{1,5}$/.test(portText) ? portText : String(DEFAULT_BRIDGE_PORT);
  try {
    const origin = new URL(env.SFT_PUBLIC_ORIGIN?.trim() ?? '');
    if (origin.protocol === 'https:' || origin.protocol === 'http:') {
      return `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.hostname}:${port}/`;
    }
  } catch {
    // No (usable) public origin: the loopback default.
  }
  return `ws://127.0.0.1:${port}/`;
}

/** The page's settings; marks the render dynamic so they are read at request time, not at build. */
export async function getRuntimeConfig(): Promise<RuntimeConfig> {
  await connection();
  return resolveRuntimeConfig();
}

/** getRuntimeConfig() without the render-time hook (for proxy.ts and tests). */
export function resolveRuntimeConfig(env: Record<string, string | undefined> = process.env): RuntimeConfig {
  const bridge = resolveBridgeUrl(env);
  const access = resolveAccess(env, bridge.bridgeUrl);
  const errors = [bridge.configError, access.configError].filter(Boolean);
  return {
    bridgeUrl: bridge.bridgeUrl,
    access: access.access,
    ...(errors.length > 0 ? { configError: errors.join(' ') } : {}),
  };
}

function resolveBridgeUrl(env: Record<string, string | undefined>): {
  bridgeUrl: string;
  configError?: string;
} {
  const configured = env.SFT_BRIDGE_URL?.trim();
  if (configured) {
    const url = validBridgeUrl(configured);
    if (url) return { bridgeUrl: url };
    return {
      bridgeUrl: defaultBridgeUrl(env),
      configError: `SFT_BRIDGE_URL is set to "${configured}", which is not a ws:// or wss:// URL; using the default bridge address instead.`,
    };
  }
  return { bridgeUrl: defaultBridgeUrl(env) };
}

function hostOf(url: string | undefined): string | undefined {
  try {
    return url ? new URL(url).hostname : undefined;
  } catch {
    return undefined;
  }
}

/** SFT_ACCESS, or the default rule over the hosts the page and its bridge are reached at. */
function resolveAccess(
  env: Record<string, string | undefined>,
  bridgeUrl: string,
): { access: AccessMode; configError?: string } {
  const text = env.SFT_ACCESS?.trim();
  const named = parseAccessMode(text);
  if (named) return { access: named };
  const hosts = [hostOf(bridgeUrl), hostOf(env.SFT_PUBLIC_ORIGIN?.trim())].filter(
    (h): h is string => h !== undefined,
  );
  const access = defaultAccessMode(hosts);
  if (!text) return { access };
  return {
    access: 'invite',
    configError: `SFT_ACCESS is set to "${text}", which is neither open nor invite; asking for an invite.`,
  };
}

/** `ws://host:port` of a bridge URL: what a CSP source names. */
export function bridgeOrigin(bridgeUrl: string): string {
  const url = new URL(bridgeUrl);
  return `${url.protocol}//${url.host}`;
}

/** CSP that allows connections to the page's own origin and the bridge's origin only. */
export function connectSrcPolicy(bridgeUrl: string): string {
  return `connect-src 'self' ${bridgeOrigin(bridgeUrl)}`;
}
