/**
 * Protocol v4 through the bridge (docs/PROTOCOL.md, "Version 4 through the bridge"): the
 * first message is either the 23-byte preamble exactly (a v4 connection) or a v3 request;
 * after the preamble the first message must be exactly the ClientHello frame, and each later
 * one whole v4 frames the browser may send, one or up to MAX_V4_FRAMES_PER_MESSAGE of them
 * (the page sends four file records per message: a quarter of the messages, and of what each
 * costs Chromium, this bridge and the server). Each header is judged by lib/protocol/v4
 * (version, type, length range) and the frames must end exactly where the message does. The
 * bridge sees only frame headers, never a key.
 */
import { CLIENT_TO_SERVER_FRAMES, FRAME_HEADER_SIZE, FrameType } from '../lib/protocol/v4/constants';
import { V4ProtocolError } from '../lib/protocol/v4/errors';
import { checkFrameHeader, isPreamble } from '../lib/protocol/v4/frames';
import { BridgeError } from './errors';

export { isPreamble };

/** Frames one message may carry: the page sends 4 (lib/client/v4-session.ts CHUNKS_PER_SEND). */
export const MAX_V4_FRAMES_PER_MESSAGE = 16;

/**
 * Checks one browser message of a v4 connection; throws BridgeError. `first`: the first
 * message after the preamble, which must be the ClientHello alone (and only it may hold one).
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
      `A v4 message of ${message.length} bytes is over this bridge's limit.`,
    );
  let frames = 0;
  for (let at = 0; at < message.length; ) {
    const left = message.length - at;
    if (left < FRAME_HEADER_SIZE)
      throw new BridgeError(
        'BRIDGE_ERR_FRAME_TRUNCATED',
        `A message ends ${left} bytes into a v4 frame header (after ${frames} frames).`,
      );
    if (++frames > MAX_V4_FRAMES_PER_MESSAGE)
      throw new BridgeError(
        'BRIDGE_ERR_FRAME_BAD_SIZE',
        `A message carries more than ${MAX_V4_FRAMES_PER_MESSAGE} v4 frames.`,
      );
    let length: number;
    try {
      length = checkFrameHeader(message.subarray(at, at + FRAME_HEADER_SIZE), CLIENT_TO_SERVER_FRAMES).length;
    } catch (e) {
      if (!(e instanceof V4ProtocolError)) throw e;
      const code =
        e.code === 'V4_ERR_BAD_VERSION' ? 'BRIDGE_ERR_FRAME_BAD_VERSION' : 'BRIDGE_ERR_FRAME_BAD_SIZE';
      throw new BridgeError(code, e.message, { cause: e });
    }
    if ((message[at + 1] === FrameType.ClientHello) !== first)
      throw new BridgeError(
        'BRIDGE_ERR_FRAME_BAD_SIZE',
        first ? 'The first v4 frame must be the ClientHello.' : 'A second ClientHello.',
      );
    // The last frame must end with the message: no frame is split over two. The ClientHello
    // must fill its message alone (so the loop never reaches a second frame there).
    if (length > left - FRAME_HEADER_SIZE || (first && length !== left - FRAME_HEADER_SIZE))
      throw new BridgeError(
        'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
        `The v4 header declares ${length} bytes but the message carries ${left - FRAME_HEADER_SIZE} after it.`,
      );
    at += FRAME_HEADER_SIZE + length;
  }
}
