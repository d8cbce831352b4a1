/**
 * Every number of protocol version 4 (docs/PROTOCOL.md, "Protocol version 4"). No other
 * module writes these values as literals.
 */

export const V4_VERSION = 4;

/** The 23-byte preamble: a v3-shaped header with version 4, so one port serves both. */
export const PREAMBLE_SIZE = 23;
/** Offset of the version byte in the preamble and in every v3 request header. */
export const PREAMBLE_VERSION_OFFSET = 16;
/** "SFT protocol v4" + NUL, the preamble's first 16 bytes. */
export const PREAMBLE_MAGIC = 'SFT protocol v4\u0000';

/** Frame header: version(1) type(1) length u32(4). */
export const FRAME_HEADER_SIZE = 6;

export const FrameType = {
  ClientHello: 0x01,
  ServerHello: 0x02,
  Sealed: 0x03,
  Chunk: 0x04,
  Alert: 0x05,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const MessageType = {
  ClientAuth: 0x10,
  ServerAuth: 0x11,
  Welcome: 0x12,
  UploadStart: 0x20,
  UploadReady: 0x21,
  UploadDone: 0x22,
  UploadAbort: 0x23,
  UploadAborted: 0x24,
  Bye: 0x30,
  Error: 0x7f,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Suite 1: X25519, Ed25519, HKDF-SHA256, AES-256-GCM, records of 256 KiB. */
export const SUITE_1 = 1;

export const KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const TAG_SIZE = 16;
export const IV_SIZE = 12;
export const UPLOAD_ID_SIZE = 16;
export const CLIENT_ID_SIZE_V4 = 16;
export const SHA256_SIZE = 32;
export const STREAM_PREFIX_SIZE = 7;

/** Plaintext bytes per file record (chosen by measurement, see the spec). */
export const RECORD_SIZE = 262_144;
/** Largest Sealed message (plaintext, type byte included). */
export const MAX_MESSAGE_SIZE = 4096;
export const MAX_REASON_BYTES = 1024;
export const MAX_CLIENT_NAME_BYTES = 100;
export const MAX_FILE_NAME_BYTES = 255;
export const MAX_INVITE_BYTES = 2048;
/** Largest u64 a receiver accepts: JavaScript numbers are exact up to here. */
export const MAX_U64 = Number.MAX_SAFE_INTEGER;
/** Records per file: the nonce's counter is a u32. */
export const MAX_RECORDS = 2 ** 32;
/**
 * The largest file one STREAM carries: MAX_RECORDS full records (1 PiB). A u64 size goes
 * further (to MAX_U64), but a size past this has no nonce for its last records.
 */
export const MAX_STREAM_BYTES = MAX_RECORDS * RECORD_SIZE;
/** Records between two durable points on the server (4 MiB). */
export const DURABLE_EVERY_RECORDS = 16;
export const DEFAULT_MAX_FILE_SIZE_V4 = 64 * 1024 ** 3;
export const DEFAULT_PARTIAL_TTL_SECONDS = 24 * 3600;

/** Body length ranges per frame type (inclusive). */
export const FRAME_BODY_LIMITS: Readonly<Record<FrameType, readonly [number, number]>> = {
  [FrameType.ClientHello]: [34, 34],
  [FrameType.ServerHello]: [34, 34],
  [FrameType.Sealed]: [1 + TAG_SIZE, MAX_MESSAGE_SIZE + TAG_SIZE],
  [FrameType.Chunk]: [TAG_SIZE, RECORD_SIZE + TAG_SIZE],
  [FrameType.Alert]: [5, 5 + MAX_REASON_BYTES],
};

/** Frame types each side may receive. */
export const CLIENT_TO_SERVER_FRAMES: readonly FrameType[] = [
  FrameType.ClientHello,
  FrameType.Sealed,
  FrameType.Chunk,
  FrameType.Alert,
];
/**
 * What the server accepts from a client before its Welcome: the handshake's frames, all small.
 * A Chunk comes only after Welcome (and UploadReady); taken in every state, a peer that never
 * completed a handshake had the server buffer a 262,160-byte body per connection.
 */
export const CLIENT_HANDSHAKE_FRAMES: readonly FrameType[] = [
  FrameType.ClientHello,
  FrameType.Sealed,
  FrameType.Alert,
];
export const SERVER_TO_CLIENT_FRAMES: readonly FrameType[] = [
  FrameType.ServerHello,
  FrameType.Sealed,
  FrameType.Alert,
];

/** Wire error codes (Alert and Error). */
export const V4ErrorCode = {
  Malformed: 1,
  Unsupported: 2,
  HandshakeFailed: 3,
  InviteRequired: 4,
  InviteInvalid: 5,
  OverQuota: 6,
  FileTooLarge: 7,
  RateLimited: 8,
  Busy: 9,
  UploadExpired: 10,
  UnknownUpload: 11,
  UploadMismatch: 12,
  RecordInvalid: 13,
  StorageFailed: 14,
  BadName: 15,
  Internal: 16,
  Timeout: 17,
  TakenOver: 18,
} as const;
export type V4ErrorCode = (typeof V4ErrorCode)[keyof typeof V4ErrorCode];

/** The sentence people see for each code (the reason sent may add detail). */
export const V4_ERROR_SENTENCES: Readonly<Record<V4ErrorCode, string>> = {
  1: 'The connection broke the protocol (bad frame, bad message, bad tag).',
  2: "The server does not support this client's protocol suite.",
  3: 'The other side could not be authenticated.',
  4: 'This server needs an invite; open your invite link.',
  5: 'This invite is not valid (forged, expired or revoked).',
  6: 'Over the space or number of files allowed.',
  7: 'The file is larger than the server accepts.',
  8: 'Too many attempts; wait a minute and try again.',
  9: 'The server is busy; try again in a moment.',
  10: 'The unfinished upload expired on the server; it starts again.',
  11: 'The server does not know this upload; it starts again.',
  12: 'The upload does not match the one the server holds; it starts again.',
  13: 'A piece of the file was damaged or out of order; the upload was dropped.',
  14: 'The server could not store the file (disk full or failing).',
  15: 'The file name cannot be stored.',
  16: 'The server failed; try again later.',
  17: 'The connection was idle or too slow.',
  18: 'Another connection of this sender took the upload over (resumed or cancelled it); this one stopped sending it.',
};

/** Whether an error with this code ends the connection. */
export function isFatalCode(code: number): boolean {
  return !(code === 6 || code === 7 || (code >= 10 && code <= 15) || code === 18);
}
