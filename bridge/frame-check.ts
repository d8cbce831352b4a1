import {
  checkRequestHeader,
  decodeRequestHeader,
  REQUEST_HEADER_SIZE,
  type RequestHeader,
} from '../lib/protocol';
import { CloseCode } from './close-codes';
import { BridgeError, type BridgeErrorCode } from './errors';

/**
 * Checks that one WebSocket message is exactly one complete request frame:
 *   23-byte header (lib/protocol), version 3, code 1025..1031,
 *   declared payload <= maxPayload, declared payload == message length - 23.
 * The size limit is checked first, so a huge declared size reads as "too large".
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
  if (header.payloadSize > maxPayload) {
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_TOO_LARGE',
      `Declared payload of ${header.payloadSize} bytes exceeds the limit of ${maxPayload}.`,
    );
  }
  try {
    checkRequestHeader(header);
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new BridgeError(
      code === 'PROTO_ERR_BAD_VERSION' ? 'BRIDGE_ERR_FRAME_BAD_VERSION' : 'BRIDGE_ERR_FRAME_UNKNOWN_CODE',
      (err as Error).message,
    );
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
