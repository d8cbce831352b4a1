import {
  CLIENT_ID_SIZE,
  MAX_U8,
  MAX_U16,
  MAX_U32,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
  RequestCode,
  ResponseCode,
} from './constants';
import { ProtocolError } from './errors';

import type { RequestHeader, ResponseHeader } from './header-types';

export type { RequestHeader, ResponseHeader } from './header-types';

const REQUEST_CODES: ReadonlySet<number> = new Set(Object.values(RequestCode));
const RESPONSE_CODES: ReadonlySet<number> = new Set(Object.values(ResponseCode));

export function isRequestCode(code: number): code is RequestCode {
  return REQUEST_CODES.has(code);
}

export function isResponseCode(code: number): code is ResponseCode {
  return RESPONSE_CODES.has(code);
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function checkHeaderFields(version: number, code: number): void {
  if (!Number.isInteger(version) || version < 0 || version > MAX_U8) {
    throw new ProtocolError('PROTO_ERR_BAD_VERSION', `Version ${version} does not fit a u8.`);
  }
  if (!Number.isInteger(code) || code < 0 || code > MAX_U16) {
    throw new ProtocolError('PROTO_ERR_UNKNOWN_CODE', `Code ${code} does not fit a u16.`);
  }
}

function checkPayloadSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > MAX_U32) {
    throw new ProtocolError('PROTO_ERR_BAD_PAYLOAD_SIZE', `Payload size ${size} does not fit a u32.`);
  }
}

/**
 * Request header, 23 bytes, little-endian:
 *   0  ClientId     16  raw UUID bytes (zeros in 1025)
 *  16  Version       1  3
 *  17  Code          2  1025..1031
 *  19  PayloadSize   4  bytes after the header
 */
export function encodeRequestHeader(h: RequestHeader, into?: Uint8Array, offset = 0): Uint8Array {
  if (h.clientId.length !== CLIENT_ID_SIZE) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_FIELD',
      `A client ID is ${CLIENT_ID_SIZE} bytes, got ${h.clientId.length}.`,
    );
  }
  checkHeaderFields(h.version, h.code);
  checkPayloadSize(h.payloadSize);
  if (into && into.length < offset + REQUEST_HEADER_SIZE) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', `No room for a request header at offset ${offset}.`);
  }
  const out = into ?? new Uint8Array(REQUEST_HEADER_SIZE);
  out.set(h.clientId, offset);
  const v = view(out);
  v.setUint8(offset + 16, h.version);
  v.setUint16(offset + 17, h.code, true);
  v.setUint32(offset + 19, h.payloadSize, true);
  return out;
}

/** Reads the 23-byte request header (layout above). Does not judge version or code. */
export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  if (bytes.length < REQUEST_HEADER_SIZE) {
    throw new ProtocolError('PROTO_ERR_TRUNCATED', `A request header is ${REQUEST_HEADER_SIZE} bytes.`);
  }
  const v = view(bytes);
  return {
    clientId: bytes.slice(0, CLIENT_ID_SIZE),
    version: v.getUint8(16),
    code: v.getUint16(17, true),
    payloadSize: v.getUint32(19, true),
  };
}

/**
 * Response header, 7 bytes, little-endian:
 *   0  Version       1  3
 *   1  Code          2  1600..1607
 *   3  PayloadSize   4
 */
export function encodeResponseHeader(h: ResponseHeader, into?: Uint8Array, offset = 0): Uint8Array {
  checkHeaderFields(h.version, h.code);
  checkPayloadSize(h.payloadSize);
  if (into && into.length < offset + RESPONSE_HEADER_SIZE) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', `No room for a response header at offset ${offset}.`);
  }
  const out = into ?? new Uint8Array(RESPONSE_HEADER_SIZE);
  const v = view(out);
  v.setUint8(offset, h.version);
  v.setUint16(offset + 1, h.code, true);
  v.setUint32(offset + 3, h.payloadSize, true);
  return out;
}

/** Reads the 7-byte response header (layout above). */
export function decodeResponseHeader(bytes: Uint8Array): ResponseHeader {
  if (bytes.length < RESPONSE_HEADER_SIZE) {
    throw new ProtocolError('PROTO_ERR_TRUNCATED', `A response header is ${RESPONSE_HEADER_SIZE} bytes.`);
  }
  const v = view(bytes);
  return { version: v.getUint8(0), code: v.getUint16(1, true), payloadSize: v.getUint32(3, true) };
}
