/**
 * The v4 preamble and frame header.
 *
 * Preamble (23 bytes, the v3 request-header layout so one port serves both):
 *   0  16  magic "SFT protocol v4" NUL
 *  16   1  version 4
 *  17   2  code 0
 *  19   4  payload size 0
 *
 * Frame header (6 bytes), then `length` body bytes:
 *   0   1  version 4
 *   1   1  type (FrameType)
 *   2   4  length u32 LE
 */
import {
  FRAME_BODY_LIMITS,
  FRAME_HEADER_SIZE,
  type FrameType,
  PREAMBLE_MAGIC,
  PREAMBLE_SIZE,
  PREAMBLE_VERSION_OFFSET,
  V4_VERSION,
} from './constants';
import { V4ProtocolError } from './errors';

export interface FrameHeader {
  type: FrameType;
  length: number;
}

export interface Frame {
  type: FrameType;
  body: Uint8Array;
}

export function encodePreamble(): Uint8Array {
  const out = new Uint8Array(PREAMBLE_SIZE);
  for (let i = 0; i < PREAMBLE_MAGIC.length; i++) out[i] = PREAMBLE_MAGIC.charCodeAt(i);
  out[PREAMBLE_VERSION_OFFSET] = V4_VERSION;
  return out;
}

const PREAMBLE = encodePreamble();

/** The version byte of a connection's first 23 bytes: 3 or 4 picks the protocol. */
export function connectionVersion(first23: Uint8Array): number {
  return first23[PREAMBLE_VERSION_OFFSET] ?? 0;
}

/** True when these are exactly the v4 preamble's bytes. */
export function isPreamble(bytes: Uint8Array): boolean {
  if (bytes.length !== PREAMBLE_SIZE) return false;
  for (let i = 0; i < PREAMBLE_SIZE; i++) if (bytes[i] !== PREAMBLE[i]) return false;
  return true;
}

export function encodeFrameHeader(type: FrameType, length: number): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE);
  out[0] = V4_VERSION;
  out[1] = type;
  new DataView(out.buffer).setUint32(2, length, true);
  return out;
}

/** Header and body in one buffer (handshake and control frames; chunks use header + body parts). */
export function encodeFrame(type: FrameType, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  out.set(encodeFrameHeader(type, body.length));
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

/**
 * Decodes and judges a frame header: version 4, a type this side may receive, a body length
 * within the type's range. Throws V4ProtocolError before any body byte is buffered.
 */
export function checkFrameHeader(head: Uint8Array, allowed: readonly FrameType[]): FrameHeader {
  if (head[0] !== V4_VERSION)
    throw new V4ProtocolError('V4_ERR_BAD_VERSION', `Frame version ${head[0]} is not 4.`);
  const type = head[1] as FrameType;
  if (!allowed.includes(type))
    throw new V4ProtocolError('V4_ERR_UNEXPECTED_FRAME', `Frame type ${type} is not allowed here.`);
  const length = new DataView(head.buffer, head.byteOffset, FRAME_HEADER_SIZE).getUint32(2, true);
  const [min, max] = FRAME_BODY_LIMITS[type];
  if (length < min || length > max)
    throw new V4ProtocolError('V4_ERR_BAD_LENGTH', `Frame type ${type} cannot be ${length} bytes.`);
  return { type, length };
}
