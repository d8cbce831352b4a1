/**
 * IP address text <-> bytes, pure (no node:net) so the PROXY codec that uses it could move to
 * lib/. Parsing is strict: dotted-quad IPv4 with decimal octets only (no "010", no "1.2.3"), and
 * IPv6 as RFC 4291 section 2.2 spells it (hex groups, one "::", an optional dotted-quad tail), no
 * zone ("%eth0") and no brackets. Formatting is canonical: RFC 5952 for IPv6, with IPv4-mapped
 * addresses written "::ffff:1.2.3.4" as Node writes a dual-stack socket's remoteAddress.
 */

export type IpFamily = 4 | 6;

export interface ParsedIp {
  family: IpFamily;
  /** 4 or 16 bytes, network order. */
  bytes: Uint8Array;
}

const DECIMAL_OCTET = /^(?:0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

function parseIpv4Into(text: string, out: Uint8Array, offset: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!DECIMAL_OCTET.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[offset + i] = n;
  }
  return true;
}

/** Parses the groups of one side of "::" into 16-bit words; undefined when malformed. */
function parseGroups(side: string, allowIpv4Tail: boolean): number[] | undefined {
  if (side === '') return [];
  const groups = side.split(':');
  const words: number[] = [];
  for (let i = 0; i < groups.length; i++) {
    const g = groups[i]!;
    if (allowIpv4Tail && i === groups.length - 1 && g.includes('.')) {
      const v4 = new Uint8Array(4);
      if (!parseIpv4Into(g, v4, 0)) return undefined;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    if (!HEX_GROUP.test(g)) return undefined;
    words.push(Number.parseInt(g, 16));
  }
  return words;
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  let words: number[];
  if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    // "::" stands for at least one zero group (RFC 4291 2.2.2), so at most 7 groups remain.
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    words = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(text, true);
    if (all?.length !== 8) return undefined;
    words = all;
  }
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = words[i]! >> 8;
    bytes[2 * i + 1] = words[i]! & 0xff;
  }
  return bytes;
}

/** The family and bytes of an address, or undefined when the text is not one. */
export function parseIp(text: string): ParsedIp | undefined {
  if (text.length === 0 || text.length > 45) return undefined;
  if (!text.includes(':')) {
    const bytes = new Uint8Array(4);
    return parseIpv4Into(text, bytes, 0) ? { family: 4, bytes } : undefined;
  }
  const bytes = parseIpv6(text);
  return bytes ? { family: 6, bytes } : undefined;
}

/** True for ::ffff:a.b.c.d (RFC 4291 2.5.5.2). */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address, else the bytes unchanged. */
export function unmapIpv4(bytes: Uint8Array): Uint8Array {
  return isIpv4Mapped(bytes) ? bytes.slice(12) : bytes;
}

/**
 * The bytes of a socket's remoteAddress as a limit or an allow-list should see them: a zone
 * ("fe80::1%eth0") dropped, IPv4-mapped IPv6 as IPv4; undefined when it is not an address.
 */
export function socketAddressBytes(address: string | undefined): Uint8Array | undefined {
  if (address === undefined) return undefined;
  const zone = address.indexOf('%');
  const ip = parseIp(zone < 0 ? address : address.slice(0, zone));
  return ip ? unmapIpv4(ip.bytes) : undefined;
}

/** ::ffff:a.b.c.d for an IPv4 address; IPv6 bytes unchanged. */
export function mapIpv4(bytes: Uint8Array): Uint8Array {
  if (bytes.length === 16) return bytes;
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(bytes, 12);
  return out;
}

/** A copy of the bytes with every bit past the first `bits` cleared (the network of a prefix). */
export function maskIp(bytes: Uint8Array, bits: number): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return out;
}

function formatIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** Canonical text of 4 or 16 address bytes (RFC 5952: lower case, longest zero run as "::"). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return formatIpv4(bytes, 0);
  if (bytes.length !== 16) throw new RangeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  if (isIpv4Mapped(bytes)) return `::ffff:${formatIpv4(bytes, 12)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  // The first longest run of two or more zero words is the one that gets "::" (RFC 5952 4.2).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLength).join(':');
  return `${head}::${tail}`;
}
