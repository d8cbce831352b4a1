import {
  CloseCode,
  checkRequestHeader,
  decodeRequestHeader,
  ProtocolError,
  type ProtocolErrorCode,
  REQUEST_HEADER_SIZE,
  type RequestHeader,
} from '../lib/protocol';
import { BridgeError, type BridgeErrorCode } from './errors';

/** The bridge's name for each way lib/protocol's header check can fail. */
const HEADER_FAILURES: Partial<Record<ProtocolErrorCode, BridgeErrorCode>> = {
  PROTO_ERR_PAYLOAD_TOO_LARGE: 'BRIDGE_ERR_FRAME_TOO_LARGE',
  PROTO_ERR_BAD_VERSION: 'BRIDGE_ERR_FRAME_BAD_VERSION',
  PROTO_ERR_UNKNOWN_CODE: 'BRIDGE_ERR_FRAME_UNKNOWN_CODE',
  PROTO_ERR_BAD_PAYLOAD_SIZE: 'BRIDGE_ERR_FRAME_BAD_SIZE',
};

/**
 * Checks that one WebSocket message is exactly one complete request frame: a 23-byte header
 * that passes lib/protocol's header check (declared payload <= maxPayload, checked first so
 * a huge size reads as "too large"; a version we speak; a request code; the payload size
 * that code allows), and a declared payload == message length - 23.
 * Throws BridgeError; returns the header otherwise.
 */
export function checkRequestMessage(message: Uint8Array, maxPayload: number): RequestHeader {
  if (message.length < REQUEST_HEADER_SIZE) {
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_TRUNCATED',
      `A message of ${message.length} bytes is shorter than the ${REQUEST_HEADER_SIZE}-byte request header.`,
    );
  }
  const header = decodeRequestHeader(message);
  try {
    checkRequestHeader(header, maxPayload);
  } catch (err) {
    const code = err instanceof ProtocolError ? HEADER_FAILURES[err.code] : undefined;
    if (!code) throw err;
    throw new BridgeError(code, (err as ProtocolError).message, { cause: err });
  }
  const actual = message.length - REQUEST_HEADER_SIZE;
  if (header.payloadSize !== actual) {
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
      `Header declares ${header.payloadSize} payload bytes but the message carries ${actual}.`,
    );
  }
  return header;
}

/** The close code the bridge answers a failed frame check with. */
export function closeCodeFor(code: BridgeErrorCode): CloseCode {
  return code === 'BRIDGE_ERR_FRAME_TOO_LARGE' ? CloseCode.FrameTooLarge : CloseCode.MalformedFrame;
}
