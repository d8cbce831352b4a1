/**
 * Where the browser finds the bridge, decided per request on the server so that one build
 * serves any deployment:
 * - SFT_BRIDGE_URL (e.g. `wss://files.example.org/bridge`) when set;
 * - otherwise the page's own host on SFT_BRIDGE_PORT (default 8080), `wss:` when the page
 *   was reached over https (directly or per X-Forwarded-Proto), else `ws:`.
 * Also builds the connect-src CSP that names only that bridge.
 */
import { headers } from 'next/headers';
import { DEFAULT_BRIDGE_PORT } from '@/lib/protocol';

export interface RuntimeConfig {
  /** WebSocket URL of the bridge. */
  bridgeUrl: string;
  /** Set when SFT_BRIDGE_URL is present but unusable: shown to the person. */
  configError?: string;
}

/** `host:port` / `[v6]:port` / `host` -> host part (brackets kept for IPv6). */
function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) {
    const end = hostHeader.indexOf(']');
    return end > 0 ? hostHeader.slice(0, end + 1) : hostHeader;
  }
  const colon = hostHeader.indexOf(':');
  return colon >= 0 ? hostHeader.slice(0, colon) : hostHeader;
}

function validBridgeUrl(text: string): string | undefined {
  try {
    const url = new URL(text);
    return url.protocol === 'ws:' || url.protocol === 'wss:' ? url.href : undefined;
  } catch {
    return undefined;
  }
}

export async function getRuntimeConfig(): Promise<RuntimeConfig> {
  const h = await headers();
  return resolveRuntimeConfig((name) => h.get(name));
}

/** getRuntimeConfig() over any request's headers (the proxy has no next/headers). */
export function resolveRuntimeConfig(header: (name: string) => string | null): RuntimeConfig {
  const configured = process.env.SFT_BRIDGE_URL?.trim();
  let configError: string | undefined;
  if (configured) {
    const url = validBridgeUrl(configured);
    if (url) return { bridgeUrl: url };
    configError = `SFT_BRIDGE_URL is set to "${configured}", which is not a ws:// or wss:// URL; using the default bridge address instead.`;
  }
  const host = hostnameOf(
    (header('x-forwarded-host') ?? header('host') ?? 'localhost').split(',')[0]!.trim(),
  );
  const proto = (header('x-forwarded-proto') ?? 'http').split(',')[0]!.trim();
  const portText = process.env.SFT_BRIDGE_PORT?.trim() || String(DEFAULT_BRIDGE_PORT);
  const port = /^\d{1,5}$/.test(portText) ? portText : String(DEFAULT_BRIDGE_PORT);
  const bridgeUrl = `${proto === 'https' ? 'wss' : 'ws'}://${host}:${port}/`;
  return configError ? { bridgeUrl, configError } : { bridgeUrl };
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
