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
import { DEFAULT_BRIDGE_PORT } from '@/lib/protocol';

export interface RuntimeConfig {
  /** WebSocket URL of the bridge. */
  bridgeUrl: string;
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

/** `ws://host:port` of a bridge URL: what a CSP source names. */
export function bridgeOrigin(bridgeUrl: string): string {
  const url = new URL(bridgeUrl);
  return `${url.protocol}//${url.host}`;
}

/** CSP that allows connections to the page's own origin and the bridge's origin only. */
export function connectSrcPolicy(bridgeUrl: string): string {
  return `connect-src 'self' ${bridgeOrigin(bridgeUrl)}`;
}
