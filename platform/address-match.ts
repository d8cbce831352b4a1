/**
 * Address lists such as the trusted PROXY senders (default loopback) or issue 15's
 * `--tcp-allow`: CIDR text in, a predicate over a socket's remoteAddress out. Pure. IPv4-mapped
 * IPv6 addresses match the IPv4 entries, since a dual-stack listener reports IPv4 peers that way.
 */
import { isIpv4Mapped, maskIp, parseIp, socketAddressBytes, unmapIpv4 } from './ip-address';
import { LimitError } from './limit-error';

/** Loopback in both families: the default trusted PROXY senders. */
export const LOOPBACK_CIDRS: readonly string[] = ['127.0.0.0/8', '::1/128'];

export interface Cidr {
  /** The network, 4 bytes for IPv4 (mapped IPv6 entries are stored as IPv4), else 16. */
  network: Uint8Array;
  bits: number;
}

/** "192.0.2.0/24", "2001:db8::/32", or a bare address (all its bits). Host bits are cleared. */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf('/');
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash));
  const max = ip?.family === 4 ? 32 : 128;
  const bitsText = slash < 0 ? String(max) : text.slice(slash + 1);
  const bits = /^(?:0|[1-9][0-9]{0,2})$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (!ip || !(bits <= max)) throw new LimitError('LIMIT_BAD_CIDR', `not an address or CIDR: ${text}`);
  if (ip.family === 6 && isIpv4Mapped(ip.bytes) && bits >= 96) {
    return { network: maskIp(unmapIpv4(ip.bytes), bits - 96), bits: bits - 96 };
  }
  return { network: maskIp(ip.bytes, bits), bits };
}

function contains(cidr: Cidr, bytes: Uint8Array): boolean {
  if (cidr.network.length !== bytes.length) return false;
  const masked = maskIp(bytes, cidr.bits);
  return masked.every((b, i) => b === cidr.network[i]);
}

/**
 * A predicate true for addresses inside any of the CIDRs; false for text that is not an address
 * (an undefined remoteAddress included). Throws ADDRESS_BAD_CIDR at creation for a bad entry.
 */
export function createAddressMatcher(cidrs: readonly string[]): (address: string | undefined) => boolean {
  const list = cidrs.map(parseCidr);
  return (address) => {
    const bytes = socketAddressBytes(address);
    return bytes !== undefined && list.some((c) => contains(c, bytes));
  };
}
