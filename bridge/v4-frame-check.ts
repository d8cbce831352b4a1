/**
 * Protocol v4 through the bridge (docs/PROTOCOL.md, "Version 4 through the bridge"): the
 * first message is either the 23-byte preamble exactly (a v4 connection) or a v3 request;
 * after the preamble each message must be exactly one v4 frame the browser may send, its
 * header judged by lib/protocol/v4 (version, type, length range) and its length equal to
 * the message's. The bridge sees only frame headers, never a key.
 */
import { CLIENT_TO_SERVER_FRAMES, FRAME_HEADER_SIZE, FrameType } from '../lib/protocol/v4/constants';
import { V4ProtocolError } from '../lib/protocol/v4/errors';
import { checkFrameHeader, isPreamble } from '../lib/protocol/v4/frames';
import { BridgeError } from './errors';

export { isPreamble };

/**
 * Checks one browser message of a v4 connection; throws BridgeError. `first`: the first
 * frame after the preamble, which must be the ClientHello (and only it may be).
 */
export function checkV4Message(message: Uint8Array, maxPayload: number, first = false): void {
  if (message.length < FRAME_HEADER_SIZE)
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_TRUNCATED',
      `A message of ${message.length} bytes is shorter than a v4 frame header.`,
    );
  if (message.length - FRAME_HEADER_SIZE > maxPayload)
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_TOO_LARGE',
      `A v4 frame of ${message.length} bytes is over this bridge's limit.`,
    );
  let length: number;
  try {
    length = checkFrameHeader(message.subarray(0, FRAME_HEADER_SIZE), CLIENT_TO_SERVER_FRAMES).length;
  } catch (e) {
    if (!(e instanceof V4ProtocolError)) throw e;
    const code =
      e.code === 'V4_ERR_BAD_VERSION' ? 'BRIDGE_ERR_FRAME_BAD_VERSION' : 'BRIDGE_ERR_FRAME_BAD_SIZE';
    throw new BridgeError(code, e.message, { cause: e });
  }
  if ((message[1] === FrameType.ClientHello) !== first)
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_BAD_SIZE',
      first ? 'The first v4 frame must be the ClientHello.' : 'A second ClientHello.',
    );
  if (length !== message.length - FRAME_HEADER_SIZE)
    throw new BridgeError(
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
      `The v4 header declares ${length} bytes but the message carries ${message.length - FRAME_HEADER_SIZE}.`,
    );
}
