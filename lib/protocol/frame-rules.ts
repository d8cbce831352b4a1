/**
 * What each protocol version allows, keyed by the header's version byte: its request and
 * response codes and the payload size each code may declare. `checkRequestHeader` and
 * `checkResponseHeader` are the one place a header is judged; the decoders run them as soon
 * as a header is complete, before any of its payload is buffered. A new protocol version is
 * one more entry in PROTOCOL_VERSIONS.
 */
import {
  CLIENT_ID_SIZE,
  FILE_RECEIVED_PAYLOAD_SIZE,
  NAME_FIELD_SIZE,
  PROTOCOL_VERSION,
  PUBLIC_KEY_SIZE,
  RequestCode,
  ResponseCode,
  SEND_FILE_FIXED_SIZE,
} from './constants';
import { ProtocolError } from './errors';
import type { RequestHeader, ResponseHeader } from './headers';

export type PayloadRule =
  /** The payload is one of these sizes. */
  | { readonly exactly: readonly number[] }
  /**
   * At least `atLeast` bytes, up to the decoder's limit. `streamed`: those first bytes are a
   * fixed part that arrives whole, the rest is content handed out slice by slice (1028).
   */
  | { readonly atLeast: number; readonly streamed?: boolean };

export interface VersionRules {
  readonly requests: ReadonlyMap<number, PayloadRule>;
  readonly responses: ReadonlyMap<number, PayloadRule>;
}

const NAME: PayloadRule = { exactly: [NAME_FIELD_SIZE] };
const CLIENT_ID: PayloadRule = { exactly: [CLIENT_ID_SIZE] };
/** 1602/1605: the wrapped key's size follows the client's RSA modulus (128 for RSA-1024). */
const KEY: PayloadRule = { atLeast: CLIENT_ID_SIZE + 1 };
/** 1601/1607 are empty, but some servers add bytes; they are read and ignored. */
const ANY: PayloadRule = { atLeast: 0 };

const VERSION_3: VersionRules = {
  requests: new Map<number, PayloadRule>([
    [RequestCode.Register, NAME],
    [RequestCode.SendPublicKey, { exactly: [NAME_FIELD_SIZE + PUBLIC_KEY_SIZE] }],
    [RequestCode.Reconnect, NAME],
    [RequestCode.SendFile, { atLeast: SEND_FILE_FIXED_SIZE, streamed: true }],
    [RequestCode.CrcOk, NAME],
    [RequestCode.CrcRetry, NAME],
    [RequestCode.CrcAbort, NAME],
  ]),
  responses: new Map<number, PayloadRule>([
    [ResponseCode.Registered, CLIENT_ID],
    [ResponseCode.RegisterFailed, ANY],
    [ResponseCode.PublicKeyAccepted, KEY],
    [ResponseCode.FileReceived, { exactly: [FILE_RECEIVED_PAYLOAD_SIZE] }],
    [ResponseCode.Thanks, CLIENT_ID],
    [ResponseCode.Reconnected, KEY],
    // Some servers send 1606 without the client ID.
    [ResponseCode.ReconnectRejected, { exactly: [CLIENT_ID_SIZE, 0] }],
    [ResponseCode.ServerError, ANY],
  ]),
};

/** Every protocol version we speak, by version byte. */
export const PROTOCOL_VERSIONS: ReadonlyMap<number, VersionRules> = new Map([[PROTOCOL_VERSION, VERSION_3]]);

/** A decoder's payload limit, refused unless a non-negative integer. */
export function checkMaxPayload(maxPayload: number): number {
  // A NaN or negative limit would make every `size > limit` check pass silently.
  if (!Number.isInteger(maxPayload) || maxPayload < 0) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_FIELD',
      `maxPayload must be a non-negative integer, got ${maxPayload}.`,
    );
  }
  return maxPayload;
}

function describeRule(rule: PayloadRule): string {
  return 'exactly' in rule ? `exactly ${rule.exactly.join(' or ')}` : `at least ${rule.atLeast}`;
}

function checkHeader(
  h: RequestHeader | ResponseHeader,
  maxPayload: number,
  kind: 'request' | 'response',
): PayloadRule {
  if (h.payloadSize > maxPayload) {
    throw new ProtocolError(
      'PROTO_ERR_PAYLOAD_TOO_LARGE',
      `Declared payload of ${h.payloadSize} bytes exceeds the limit of ${maxPayload}.`,
      h,
    );
  }
  const rules = PROTOCOL_VERSIONS.get(h.version);
  if (!rules) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_VERSION',
      `Unsupported protocol version ${h.version}; expected ${[...PROTOCOL_VERSIONS.keys()].join(' or ')}.`,
      h,
    );
  }
  const rule = (kind === 'request' ? rules.requests : rules.responses).get(h.code);
  if (!rule) throw new ProtocolError('PROTO_ERR_UNKNOWN_CODE', `Unknown ${kind} code ${h.code}.`, h);
  const fits = 'exactly' in rule ? rule.exactly.includes(h.payloadSize) : h.payloadSize >= rule.atLeast;
  if (!fits) {
    throw new ProtocolError(
      'PROTO_ERR_BAD_PAYLOAD_SIZE',
      `A ${h.code} ${kind} carries ${describeRule(rule)} payload bytes, not ${h.payloadSize}.`,
      h,
    );
  }
  return rule;
}

/**
 * Throws a ProtocolError carrying the header unless it declares at most `maxPayload` bytes
 * (checked first, so a huge size reads as "too large"), a version we speak, one of its
 * request codes and a payload size that code allows. Returns the code's payload rule.
 */
export function checkRequestHeader(h: RequestHeader, maxPayload: number): PayloadRule {
  return checkHeader(h, maxPayload, 'request');
}

/** The same for a response header. */
export function checkResponseHeader(h: ResponseHeader, maxPayload: number): PayloadRule {
  return checkHeader(h, maxPayload, 'response');
}
