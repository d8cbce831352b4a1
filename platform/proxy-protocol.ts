/**
 * PROXY protocol version 2 (HAProxy's doc/proxy-protocol.txt, section 2.2): the binary header a
 * relay sends first on each TCP connection it opens, so that the server learns the real source
 * address (and TLVs such as an invite token). Pure: Uint8Array only, no Buffer, no I/O, so it
 * can move to lib/. The spec's section 5 applies to whoever wires it: expect the header only
 * because configuration says so, and only from trusted relay addresses.
 *
 * Wire layout (every multi-byte field big-endian):
 *   0  12  signature 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
 *   12  1  version (high nibble, always 2) | command (low nibble: 0 LOCAL, 1 PROXY)
 *   13  1  address family (high nibble) | transport (low nibble): 0x00 UNSPEC, 0x11 TCP4,
 *          0x12 UDP4, 0x21 TCP6, 0x22 UDP6, 0x31 UNIX stream, 0x32 UNIX datagram
 *   14  2  length of what follows (address block + TLVs)
 *   16     address block: TCP4 src(4) dst(4) srcport(2) dstport(2) = 12 bytes,
 *          TCP6 src(16) dst(16) srcport(2) dstport(2) = 36 bytes, UNIX 2 x 108, UNSPEC 0
 *   ..     TLVs to the end: type(1) length(2) value(length)
 */
import { crc32c } from './crc32c';
import { formatIp, mapIpv4, parseIp, socketAddressBytes } from './ip-address';

const SIGNATURE = Uint8Array.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** The 12 signature bytes (a copy: the codec keeps its own). */
export const PP2_SIGNATURE: Uint8Array = SIGNATURE.slice();
/** Signature, version/command, family, length. */
export const PP2_FIXED_LENGTH = 16;
/** Default cap on the length field: an IPv6 block, an invite and a unique ID fit with room. */
export const PP2_DEFAULT_MAX_LENGTH = 512;
const PP2_VERSION = 0x2;
const CMD_LOCAL = 0x0;
const CMD_PROXY = 0x1;
const FAM_UNSPEC = 0x00;
const FAM_TCP4 = 0x11;
const FAM_TCP6 = 0x21;
/** Address block length for each family byte the spec defines; any other byte is invalid. */
const ADDRESS_LENGTH = new Map<number, number>([
  [FAM_UNSPEC, 0],
  [FAM_TCP4, 12],
  [0x12, 12],
  [FAM_TCP6, 36],
  [0x22, 36],
  [0x31, 216],
  [0x32, 216],
]);

/** TLV types of the spec (section 2.2) and the one this project adds. */
export const Pp2Type = {
  /** RFC 7301 ALPN bytes. */
  ALPN: 0x01,
  /** Host name the client asked for (SNI), UTF-8. */
  AUTHORITY: 0x02,
  /** CRC-32C of the whole header with this value zeroed; checked when present. */
  CRC32C: 0x03,
  /** Padding, ignored. */
  NOOP: 0x04,
  /** Opaque connection ID of up to 128 bytes. */
  UNIQUE_ID: 0x05,
  /** TLS details with sub-TLVs (kept opaque here). */
  SSL: 0x20,
  /** Network namespace name. */
  NETNS: 0x30,
  /** First and last of the range reserved for applications (2.2.8). */
  MIN_CUSTOM: 0xe0,
  MAX_CUSTOM: 0xef,
  /** This project: the invite token of a relayed connection (issue 15). */
  SFT_INVITE: 0xe0,
} as const;
export const PP2_UNIQUE_ID_MAX = 128;

export type ProxyProtocolErrorCode =
  | 'PP2_BAD_SIGNATURE'
  | 'PP2_BAD_VERSION'
  | 'PP2_BAD_COMMAND'
  | 'PP2_BAD_FAMILY'
  | 'PP2_TOO_LONG'
  | 'PP2_TRUNCATED_ADDRESS'
  | 'PP2_BAD_TLV'
  | 'PP2_BAD_CHECKSUM'
  | 'PP2_DUPLICATE_TLV'
  | 'PP2_BAD_ARGUMENT'
  | 'PP2_DONE'
  /** Raised by the socket reader: no complete header before the deadline, or the peer closed. */
  | 'PP2_TIMEOUT'
  | 'PP2_INCOMPLETE';

/** The one error type of this module; `code` is stable, the message is for people. */
export class ProxyProtocolError extends Error {
  override readonly name = 'ProxyProtocolError';
  constructor(
    readonly code: ProxyProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface ProxyEndpoint {
  /** Canonical text: dotted quad, or RFC 5952 IPv6 ("::ffff:1.2.3.4" when IPv4-mapped). */
  address: string;
  port: number;
}

export interface Pp2Tlv {
  type: number;
  value: Uint8Array;
}

/** A decoded header. TLVs come in wire order, CRC32C and NOOP included. */
export type ProxyHeader =
  /** The relay's own connection (a health check): use the socket's real endpoints. */
  | { command: 'local'; tlvs: Pp2Tlv[] }
  | {
      command: 'proxy';
      family: 'tcp4' | 'tcp6';
      source: ProxyEndpoint;
      destination: ProxyEndpoint;
      tlvs: Pp2Tlv[];
    }
  /** PROXY for UNSPEC, UDP or UNIX: valid, addresses not decoded; a server should refuse it. */
  | { command: 'proxy'; family: 'unspec'; familyByte: number; tlvs: Pp2Tlv[] };

export type ProxyHeaderInit =
  | { command: 'local'; tlvs?: readonly Pp2Tlv[] }
  | {
      command: 'proxy';
      family: 'tcp4' | 'tcp6';
      source: ProxyEndpoint;
      destination: ProxyEndpoint;
      tlvs?: readonly Pp2Tlv[];
    };

export interface ProxyEncodeOptions {
  /** Append a PP2_TYPE_CRC32C TLV over the whole header. */
  crc32c?: boolean;
  /** Refuse to build a header whose length field exceeds this (default PP2_DEFAULT_MAX_LENGTH). */
  maxLength?: number;
}

function fail(code: ProxyProtocolErrorCode, message: string): never {
  throw new ProxyProtocolError(code, message);
}

function addressBytes(address: string, family: 4 | 6): Uint8Array {
  const ip = parseIp(address);
  if (!ip || ip.family !== family) fail('PP2_BAD_ARGUMENT', `not an IPv${family} address: ${address}`);
  return ip.bytes;
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) fail('PP2_BAD_ARGUMENT', `bad port ${port}`);
  return port;
}

function checkTlv(tlv: Pp2Tlv): void {
  if (!Number.isInteger(tlv.type) || tlv.type < 0 || tlv.type > 0xff) {
    fail('PP2_BAD_ARGUMENT', `bad TLV type ${tlv.type}`);
  }
  if (tlv.type === Pp2Type.CRC32C) fail('PP2_BAD_ARGUMENT', 'ask for a CRC32C TLV with the crc32c option');
  if (tlv.value.length > 0xffff) fail('PP2_BAD_ARGUMENT', `TLV 0x${tlv.type.toString(16)} value too long`);
  if (tlv.type === Pp2Type.UNIQUE_ID && tlv.value.length > PP2_UNIQUE_ID_MAX) {
    fail('PP2_BAD_ARGUMENT', `a unique ID has at most ${PP2_UNIQUE_ID_MAX} bytes`);
  }
}

/** The header bytes; PP2_BAD_ARGUMENT for input it cannot encode, PP2_TOO_LONG past maxLength. */
export function encodeProxyHeader(init: ProxyHeaderInit, options: ProxyEncodeOptions = {}): Uint8Array {
  const maxLength = options.maxLength ?? PP2_DEFAULT_MAX_LENGTH;
  const tlvs = [...(init.tlvs ?? [])];
  for (const tlv of tlvs) checkTlv(tlv);
  if (options.crc32c) tlvs.push({ type: Pp2Type.CRC32C, value: new Uint8Array(4) });
  let address = new Uint8Array(0);
  let famByte = FAM_UNSPEC;
  if (init.command === 'proxy') {
    const v = init.family === 'tcp4' ? 4 : 6;
    famByte = v === 4 ? FAM_TCP4 : FAM_TCP6;
    const n = v === 4 ? 4 : 16;
    address = new Uint8Array(2 * n + 4);
    address.set(addressBytes(init.source.address, v), 0);
    address.set(addressBytes(init.destination.address, v), n);
    const view = new DataView(address.buffer);
    view.setUint16(2 * n, checkPort(init.source.port), false);
    view.setUint16(2 * n + 2, checkPort(init.destination.port), false);
  } else if (init.command !== 'local') {
    fail('PP2_BAD_ARGUMENT', 'command is "local" or "proxy"');
  }
  const length = address.length + tlvs.reduce((sum, t) => sum + 3 + t.value.length, 0);
  if (length > Math.min(maxLength, 0xffff)) fail('PP2_TOO_LONG', `header length ${length} over ${maxLength}`);
  const out = new Uint8Array(PP2_FIXED_LENGTH + length);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE, 0);
  out[12] = (PP2_VERSION << 4) | (init.command === 'proxy' ? CMD_PROXY : CMD_LOCAL);
  out[13] = famByte;
  view.setUint16(14, length, false);
  out.set(address, PP2_FIXED_LENGTH);
  let at = PP2_FIXED_LENGTH + address.length;
  for (const tlv of tlvs) {
    out[at] = tlv.type;
    view.setUint16(at + 1, tlv.value.length, false);
    out.set(tlv.value, at + 3);
    at += 3 + tlv.value.length;
  }
  // The CRC TLV is last and was written as zeros; the checksum covers the header with it zeroed.
  if (options.crc32c) view.setUint32(out.length - 4, crc32c(out), false);
  return out;
}

/**
 * A PROXY header for a relayed TCP connection from socket address text: TCP4 when both ends are
 * IPv4 (IPv4-mapped IPv6 counts as IPv4), else TCP6 with any IPv4 end mapped (the header has one
 * family for both ends, as HAProxy does it).
 */
export function tcpProxyHeader(
  source: ProxyEndpoint,
  destination: ProxyEndpoint,
  tlvs: readonly Pp2Tlv[] = [],
): ProxyHeaderInit {
  const parse = (address: string): Uint8Array =>
    socketAddressBytes(address) ?? fail('PP2_BAD_ARGUMENT', `not an IP address: ${address}`);
  const src = parse(source.address);
  const dst = parse(destination.address);
  const v4 = src.length === 4 && dst.length === 4;
  const text = (b: Uint8Array): string => formatIp(v4 ? b : mapIpv4(b));
  return {
    command: 'proxy',
    family: v4 ? 'tcp4' : 'tcp6',
    source: { address: text(src), port: source.port },
    destination: { address: text(dst), port: destination.port },
    tlvs,
  };
}

/** The value of the TLV of that type, undefined if absent; PP2_DUPLICATE_TLV if it appears twice. */
export function getTlv(tlvs: readonly Pp2Tlv[], type: number): Uint8Array | undefined {
  const found = tlvs.filter((t) => t.type === type);
  if (found.length > 1) fail('PP2_DUPLICATE_TLV', `TLV 0x${type.toString(16)} appears ${found.length} times`);
  return found[0]?.value;
}

export interface ProxyDecodeOptions {
  /** Largest length field accepted, checked before any of the rest is buffered (default 512). */
  maxLength?: number;
}

export interface ProxyDecodeResult {
  header: ProxyHeader;
  /** Bytes of the whole header (16 + its length field). */
  headerLength: number;
  /** Bytes of the last pushed chunk that belonged to the header. */
  consumed: number;
  /** The rest of that chunk: the first bytes of the protocol stream (a view, not a copy). */
  rest: Uint8Array;
}

function parseTlvs(header: Uint8Array, from: number): Pp2Tlv[] {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const tlvs: Pp2Tlv[] = [];
  let at = from;
  while (at < header.length) {
    if (header.length - at < 3) fail('PP2_BAD_TLV', `${header.length - at} stray bytes after the TLVs`);
    const type = header[at]!;
    const length = view.getUint16(at + 1, false);
    if (at + 3 + length > header.length)
      fail('PP2_BAD_TLV', `TLV 0x${type.toString(16)} overruns the header`);
    const value = header.slice(at + 3, at + 3 + length);
    if (type === Pp2Type.UNIQUE_ID && length > PP2_UNIQUE_ID_MAX) {
      fail('PP2_BAD_TLV', `unique ID of ${length} bytes`);
    }
    if (type === Pp2Type.CRC32C) {
      if (length !== 4) fail('PP2_BAD_TLV', `CRC32C TLV of ${length} bytes`);
      if (tlvs.some((t) => t.type === Pp2Type.CRC32C)) fail('PP2_BAD_TLV', 'two CRC32C TLVs');
      const zeroed = header.slice();
      zeroed.fill(0, at + 3, at + 7);
      if (crc32c(zeroed) !== view.getUint32(at + 3, false)) fail('PP2_BAD_CHECKSUM', 'CRC32C mismatch');
    }
    tlvs.push({ type, value });
    at += 3 + length;
  }
  return tlvs;
}

function endpoint(header: Uint8Array, addressAt: number, n: number, portAt: number): ProxyEndpoint {
  const port = (header[portAt]! << 8) | header[portAt + 1]!;
  return { address: formatIp(header.subarray(addressAt, addressAt + n)), port };
}

/** Parses a complete header whose fixed part was already validated. */
function parseHeader(header: Uint8Array): ProxyHeader {
  const command = header[12]! & 0x0f;
  const famByte = header[13]!;
  const addressLength = ADDRESS_LENGTH.get(famByte)!;
  const tlvs = parseTlvs(header, PP2_FIXED_LENGTH + addressLength);
  if (command === CMD_LOCAL) return { command: 'local', tlvs };
  if (famByte !== FAM_TCP4 && famByte !== FAM_TCP6) {
    return { command: 'proxy', family: 'unspec', familyByte: famByte, tlvs };
  }
  const n = famByte === FAM_TCP4 ? 4 : 16;
  const a = PP2_FIXED_LENGTH;
  return {
    command: 'proxy',
    family: famByte === FAM_TCP4 ? 'tcp4' : 'tcp6',
    source: endpoint(header, a, n, a + 2 * n),
    destination: endpoint(header, a + n, n, a + 2 * n + 2),
    tlvs,
  };
}

/**
 * Incremental decoder for the header at the start of a stream: push chunks as they arrive until
 * it returns a result; the result's `rest` is the protocol stream. It fails as early as a byte
 * shows the stream is not a valid header (the first wrong signature byte, a length over the
 * maximum before the rest is buffered) and keeps failing with the same error afterwards. A
 * caller still needs a deadline: a peer that stops mid-header is the caller's to drop.
 */
export class ProxyHeaderDecoder {
  readonly #maxLength: number;
  #fixed = new Uint8Array(PP2_FIXED_LENGTH);
  #header: Uint8Array | undefined;
  #have = 0;
  #done = false;
  #error: ProxyProtocolError | undefined;

  constructor(options: ProxyDecodeOptions = {}) {
    const max = options.maxLength ?? PP2_DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(max) || max < 0 || max > 0xffff) fail('PP2_BAD_ARGUMENT', `bad maxLength ${max}`);
    this.#maxLength = max;
  }

  /** Bytes taken so far. */
  get bytesReceived(): number {
    return this.#have;
  }

  push(chunk: Uint8Array): ProxyDecodeResult | undefined {
    if (this.#error) throw this.#error;
    if (this.#done) fail('PP2_DONE', 'the header was already decoded');
    try {
      return this.#push(chunk);
    } catch (e) {
      if (e instanceof ProxyProtocolError) this.#error = e;
      throw e;
    }
  }

  #push(chunk: Uint8Array): ProxyDecodeResult | undefined {
    let used = 0;
    while (used < chunk.length && this.#have < PP2_FIXED_LENGTH) {
      this.#fixed[this.#have] = chunk[used]!;
      this.#checkFixedByte(this.#have);
      this.#have++;
      used++;
    }
    if (this.#have < PP2_FIXED_LENGTH) return undefined;
    if (!this.#header) {
      const length = (this.#fixed[14]! << 8) | this.#fixed[15]!;
      this.#header = new Uint8Array(PP2_FIXED_LENGTH + length);
      this.#header.set(this.#fixed, 0);
    }
    const take = Math.min(chunk.length - used, this.#header.length - this.#have);
    this.#header.set(chunk.subarray(used, used + take), this.#have);
    this.#have += take;
    used += take;
    if (this.#have < this.#header.length) return undefined;
    const header = parseHeader(this.#header);
    this.#done = true;
    return { header, headerLength: this.#header.length, consumed: used, rest: chunk.subarray(used) };
  }

  #checkFixedByte(i: number): void {
    const b = this.#fixed[i]!;
    if (i < SIGNATURE.length) {
      if (b !== SIGNATURE[i]) fail('PP2_BAD_SIGNATURE', `byte ${i} is not the PROXY v2 signature`);
    } else if (i === 12) {
      if (b >> 4 !== PP2_VERSION) fail('PP2_BAD_VERSION', `version ${b >> 4}, expected 2`);
      const command = b & 0x0f;
      if (command !== CMD_LOCAL && command !== CMD_PROXY) fail('PP2_BAD_COMMAND', `command ${command}`);
    } else if (i === 13) {
      if (!ADDRESS_LENGTH.has(b)) fail('PP2_BAD_FAMILY', `family/transport byte 0x${b.toString(16)}`);
    } else if (i === 15) {
      const length = (this.#fixed[14]! << 8) | b;
      if (length > this.#maxLength) fail('PP2_TOO_LONG', `header length ${length} over ${this.#maxLength}`);
      const addressLength = ADDRESS_LENGTH.get(this.#fixed[13]!)!;
      if (length < addressLength) {
        fail(
          'PP2_TRUNCATED_ADDRESS',
          `length ${length} shorter than the ${addressLength}-byte address block`,
        );
      }
    }
  }
}

/** One-shot decode of a header at the start of `bytes`; undefined when more bytes are needed. */
export function decodeProxyHeader(
  bytes: Uint8Array,
  options: ProxyDecodeOptions = {},
): ProxyDecodeResult | undefined {
  return new ProxyHeaderDecoder(options).push(bytes);
}
