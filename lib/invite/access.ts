/**
 * Who may send: `open` (anyone who reaches the bridge) or `invite` (a valid invite link).
 * The default: `open` only while every address is loopback, else `invite`, so a system put
 * on a public address is never open by accident. One rule for the server, the bridge,
 * npm start and the page (runtime-neutral, so the page may import it).
 */
export const ACCESS_MODES = ['open', 'invite'] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

/** The mode named by `text` (case and spaces ignored), or undefined when it names none. */
export function parseAccessMode(text: string | undefined): AccessMode | undefined {
  const t = text?.trim().toLowerCase();
  return t === 'open' || t === 'invite' ? t : undefined;
}

/** True for names and addresses that only this machine reaches (localhost, 127/8, ::1). */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost') || h === '::1') return true;
  if (/^::ffff:127\.\d+\.\d+\.\d+$/.test(h)) return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** `open` when every host is loopback (wildcards such as 0.0.0.0 are not), else `invite`. */
export function defaultAccessMode(hosts: readonly string[]): AccessMode {
  return hosts.every(isLoopbackHost) ? 'open' : 'invite';
}
