/**
 * The key a per-source limit counts under, from a socket's remote address: the IPv4 address, or
 * the IPv6 /64 network, since one host or one customer of a provider usually holds a whole /64
 * (counting IPv6 addresses one by one lets such a peer take every slot). Prefix lengths are
 * configurable like sshd's PerSourceNetBlockSize. IPv4-mapped IPv6 ("::ffff:1.2.3.4", how a
 * dual-stack listener reports IPv4 peers) counts as the IPv4 address.
 */
import { formatIp, maskIp, socketAddressBytes } from './ip-address';
import { LimitError } from './limit-error';

export interface SourceKeyOptions {
  /** Bits of an IPv4 address that make the key (default 32: each address on its own). */
  ipv4PrefixLength?: number;
  /** Bits of an IPv6 address that make the key (default 64). */
  ipv6PrefixLength?: number;
}

export const DEFAULT_IPV4_PREFIX_LENGTH = 32;
export const DEFAULT_IPV6_PREFIX_LENGTH = 64;

function checkPrefix(bits: number, max: number): number {
  if (!Number.isInteger(bits) || bits < 0 || bits > max) {
    throw new LimitError('LIMIT_BAD_OPTION', `prefix length ${bits} is not in 0..${max}`);
  }
  return bits;
}

/**
 * "192.0.2.7" (or "192.0.2.0/24" with a shorter IPv4 prefix), "2001:db8:1:2::/64"; equal for
 * every spelling of addresses in the same network. A zone ("fe80::1%eth0") is ignored. Throws
 * SOURCE_KEY_BAD_ADDRESS for text that is not an IP address (a destroyed socket's undefined
 * remoteAddress included): refuse such a connection rather than count it under a shared key.
 */
export function sourceKey(address: string | undefined, options: SourceKeyOptions = {}): string {
  const v4Bits = checkPrefix(options.ipv4PrefixLength ?? DEFAULT_IPV4_PREFIX_LENGTH, 32);
  const v6Bits = checkPrefix(options.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH, 128);
  const bytes = socketAddressBytes(address);
  if (!bytes) throw new LimitError('LIMIT_BAD_ADDRESS', `not an IP address: ${String(address)}`);
  const bits = bytes.length === 4 ? v4Bits : v6Bits;
  const network = formatIp(maskIp(bytes, bits));
  return bits === 8 * bytes.length ? network : `${network}/${bits}`;
}

/** sourceKey with options checked once, for a listener to call per connection. */
export function createSourceKey(options: SourceKeyOptions = {}): (address: string | undefined) => string {
  checkPrefix(options.ipv4PrefixLength ?? DEFAULT_IPV4_PREFIX_LENGTH, 32);
  checkPrefix(options.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH, 128);
  return (address) => sourceKey(address, options);
}
