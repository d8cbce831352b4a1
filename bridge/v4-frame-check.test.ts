/**
 * The bridge's check of browser messages on a v4 connection (bridge/v4-frame-check.ts): the
 * ClientHello alone first, then one or more whole frames per message (the page sends four
 * Chunks per message), at most MAX_V4_FRAMES_PER_MESSAGE, none split, no stray bytes.
 */
import { describe, expect, it } from 'vitest';
import { FrameType, RECORD_SIZE, TAG_SIZE } from '../lib/protocol/v4/constants';
import { encodeFrameHeader } from '../lib/protocol/v4/frames';
import { BridgeError, type BridgeErrorCode } from './errors';
import { checkV4Message, MAX_V4_FRAMES_PER_MESSAGE } from './v4-frame-check';

const LIMIT = 16 * 1024 * 1024;
const frame = (type: FrameType, length: number) =>
  new Uint8Array([...encodeFrameHeader(type, length), ...new Uint8Array(length).fill(0xab)]);
const join = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));
const hello = frame(FrameType.ClientHello, 34);
const chunk = (length = RECORD_SIZE + TAG_SIZE) => frame(FrameType.Chunk, length);

function failure(message: Uint8Array, first = false, limit = LIMIT): BridgeErrorCode {
  try {
    checkV4Message(message, limit, first);
  } catch (e) {
    if (e instanceof BridgeError) return e.code;
    throw e;
  }
  throw new Error('accepted');
}

describe('checkV4Message', () => {
  it('takes the ClientHello alone first, then one or more whole frames per message', () => {
    expect(() => checkV4Message(hello, LIMIT, true)).not.toThrow();
    expect(() => checkV4Message(frame(FrameType.Sealed, 40), LIMIT)).not.toThrow();
    // What the page sends: four full records in one message, and the last file's short one.
    expect(() => checkV4Message(join(chunk(), chunk(), chunk(), chunk()), LIMIT)).not.toThrow();
    expect(() => checkV4Message(join(chunk(), chunk(TAG_SIZE + 5)), LIMIT)).not.toThrow();
    expect(() => checkV4Message(join(frame(FrameType.Sealed, 17), chunk(100)), LIMIT)).not.toThrow();
    const most = join(...new Array<Uint8Array>(MAX_V4_FRAMES_PER_MESSAGE).fill(chunk(TAG_SIZE)));
    expect(() => checkV4Message(most, LIMIT)).not.toThrow();
  });

  it.each<[string, Uint8Array, boolean, BridgeErrorCode]>([
    ['an empty message', new Uint8Array(0), false, 'BRIDGE_ERR_FRAME_TRUNCATED'],
    ['half a header', chunk().subarray(0, 4), false, 'BRIDGE_ERR_FRAME_TRUNCATED'],
    [
      'a whole frame and half a header',
      join(chunk(), new Uint8Array([4, 3, 0])),
      false,
      'BRIDGE_ERR_FRAME_TRUNCATED',
    ],
    ['a frame cut short', chunk().subarray(0, 1000), false, 'BRIDGE_ERR_FRAME_SIZE_MISMATCH'],
    [
      'a whole frame, then one cut short',
      join(chunk(), chunk().subarray(0, 1000)),
      false,
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
    ],
    [
      `${MAX_V4_FRAMES_PER_MESSAGE + 1} frames`,
      join(...new Array<Uint8Array>(MAX_V4_FRAMES_PER_MESSAGE + 1).fill(chunk(TAG_SIZE))),
      false,
      'BRIDGE_ERR_FRAME_BAD_SIZE',
    ],
    [
      'the ClientHello with a frame after it',
      join(hello, chunk(TAG_SIZE)),
      true,
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
    ],
    [
      'the ClientHello with a stray byte',
      join(hello, new Uint8Array([4])),
      true,
      'BRIDGE_ERR_FRAME_SIZE_MISMATCH',
    ],
    ['a Chunk where the ClientHello must be', chunk(), true, 'BRIDGE_ERR_FRAME_BAD_SIZE'],
    ['a second ClientHello after Chunks', join(chunk(), hello), false, 'BRIDGE_ERR_FRAME_BAD_SIZE'],
    [
      'a frame only the server sends among Chunks',
      join(chunk(), frame(FrameType.ServerHello, 34)),
      false,
      'BRIDGE_ERR_FRAME_BAD_SIZE',
    ],
    ['a Chunk longer than a record', chunk(RECORD_SIZE + TAG_SIZE + 1), false, 'BRIDGE_ERR_FRAME_BAD_SIZE'],
    [
      'a frame of another version',
      join(chunk(), new Uint8Array([3, 3, 16, 0, 0, 0]), new Uint8Array(16)),
      false,
      'BRIDGE_ERR_FRAME_BAD_VERSION',
    ],
  ])('refuses %s', (_what, message, first, code) => {
    expect(failure(message, first)).toBe(code);
  });

  it("refuses a message over the bridge's limit before reading its frames", () => {
    expect(failure(join(chunk(), chunk()), false, RECORD_SIZE)).toBe('BRIDGE_ERR_FRAME_TOO_LARGE');
  });
});
