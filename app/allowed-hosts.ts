/**
 * Which Host names the web app answers for (like Django's ALLOWED_HOSTS). A request whose
 * Host or X-Forwarded-Host names any other host gets 421 from proxy.ts, so nothing a client
 * puts in those headers reaches a page, a header or a URL the app builds.
 *
 * - SFT_ALLOWED_HOSTS: comma-separated host names (a port, if given, is ignored);
 * - the host of SFT_PUBLIC_ORIGIN (the page's public URL), when set;
 * - with neither set, the loopback names: localhost, 127.0.0.1 and [::1].
 */

export const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'] as const;

/** A Host header value: a DNS name, IPv4 or bracketed IPv6 address, and an optional port. */
const HOST_HEADER = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::\d{1,5})?$/i;

/** The lower-case host name of a Host header value (no port), or undefined if it is not one. */
export function hostnameOf(value: string | null | undefined): string | undefined {
  const match = HOST_HEADER.exec(value?.trim() ?? '');
  return match ? match[1]!.toLowerCase() : undefined;
}

/** The configured host names (lower case, no ports). */
export function allowedHosts(env: Record<string, string | undefined> = process.env): Set<string> {
  const hosts = new Set<string>();
  for (const entry of env.SFT_ALLOWED_HOSTS?.split(',') ?? []) {
    const host = hostnameOf(entry);
    if (host) hosts.add(host);
  }
  const publicOrigin = env.SFT_PUBLIC_ORIGIN?.trim();
  if (publicOrigin) {
    try {
      hosts.add(new URL(publicOrigin).hostname.toLowerCase());
    } catch {
      // An unusable SFT_PUBLIC_ORIGIN allows nothing.
    }
  }
  if (hosts.size === 0) for (const h of LOOPBACK_HOSTS) hosts.add(h);
  return hosts;
}

/**
 * Whether a request may be served: its Host is allowed, and so is every X-Forwarded-Host
 * entry it carries (next start fills X-Forwarded-Host from Host when a client sent none).
 */
export function requestHostAllowed(
  header: (name: string) => string | null,
  allowed: ReadonlySet<string> = allowedHosts(),
): boolean {
  const host = hostnameOf(header('host'));
  if (host === undefined || !allowed.has(host)) return false;
  const forwarded = header('x-forwarded-host');
  if (forwarded === null) return true;
  return forwarded.split(',').every((entry) => {
    const name = hostnameOf(entry);
    return name !== undefined && allowed.has(name);
  });
}
