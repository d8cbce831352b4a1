/**
 * The unit per-source limits count by: an IPv4 address as it is, an IPv6 address by its
 * /64 prefix (one host or home network usually holds a whole /64, so counting addresses one
 * by one would give it 2^64 quotas). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as IPv4.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** Expands an IPv6 address (no zone) to its eight 16-bit groups. */
function ipv6Groups(address: string): number[] {
  let text = address;
  // A trailing dotted IPv4 part becomes two groups.
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[2]!.split('.').map(Number) as [number, number, number, number];
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - left.length - right.length).fill(0);
  return [...left, ...zeros, ...right];
}

/**
 * `1.2.3.4` -> `1.2.3.4`; `2001:db8:1:2:3:4:5:6` -> `2001:db8:1:2::/64`; `::ffff:1.2.3.4` ->
 * `1.2.3.4`; anything else (or nothing) as it is, or `unknown`.
 */
export function sourceKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const bare = address.replace(/%.*$/, '');
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return address;
  const groups = ipv6Groups(bare);
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (mapped) return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}
