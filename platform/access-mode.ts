/**
 * Who may send (issue 15): `open` serves anyone who reaches the program, `invite` needs an
 * invite link for a registration through the bridge. The default is `open` only while every
 * listener is on loopback; one listener on another address makes it `invite`, and `open` must
 * then be asked for (the program warns at start). Shared by the server, the bridge and npm start.
 */
import { createAddressMatcher, LOOPBACK_CIDRS } from './address-match';

export const ACCESS_MODES = ['open', 'invite'] as const;
export type AccessMode = (typeof ACCESS_MODES)[number];

const loopback = createAddressMatcher(LOOPBACK_CIDRS);

/** True for a listen address that only this machine reaches: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || loopback(h);
}

/** The mode when none is configured: `open` while every listen address is loopback. */
export function defaultAccess(hosts: readonly string[]): AccessMode {
  return hosts.every(isLoopbackHost) ? 'open' : 'invite';
}
