/**
 * Every number of protocol version 3 (see docs/PROTOCOL.md). No other module writes
 * these values as literals.
 */

/** Protocol version clients send and the server answers with. */
export const PROTOCOL_VERSION = 3;

/** Request codes (client -> server). */
export const RequestCode = {
  /** Register a new client name. Payload: Name. */
  Register: 1025,
  /** Send the client's RSA public key. Payload: Name, PublicKey. */
  SendPublicKey: 1026,
  /** Reconnect as an already registered client. Payload: Name. */
  Reconnect: 1027,
  /** One packet of an encrypted file. Payload: sizes, packet numbers, FileName, content. */
  SendFile: 1028,
  /** The CRC the server reported matches the client's. Payload: FileName. */
  CrcOk: 1029,
  /** CRC mismatch, a new 1028 sequence follows. Payload: FileName. No response. */
  CrcRetry: 1030,
  /** CRC mismatch for the fourth time, giving up. Payload: FileName. */
  CrcAbort: 1031,
} as const;
export type RequestCode = (typeof RequestCode)[keyof typeof RequestCode];

/** Response codes (server -> client). */
export const ResponseCode = {
  /** Registration succeeded. Payload: ClientId. */
  Registered: 1600,
  /** Registration failed (name taken or invalid). Payload: empty. */
  RegisterFailed: 1601,
  /** Public key received. Payload: ClientId, encrypted AES key. */
  PublicKeyAccepted: 1602,
  /** File received. Payload: ClientId, ContentSize, FileName, Cksum. */
  FileReceived: 1603,
  /** Acknowledgement of 1029 and 1031. Payload: ClientId. */
  Thanks: 1604,
  /** Reconnect accepted. Payload: ClientId, encrypted AES key. */
  Reconnected: 1605,
  /** Reconnect rejected, register anew. Payload: ClientId. */
  ReconnectRejected: 1606,
  /** General server error. Payload: empty. */
  ServerError: 1607,
} as const;
export type ResponseCode = (typeof ResponseCode)[keyof typeof ResponseCode];

/** Request header: ClientId(16) Version(1) Code(2) PayloadSize(4). */
export const REQUEST_HEADER_SIZE = 23;
/** Response header: Version(1) Code(2) PayloadSize(4). */
export const RESPONSE_HEADER_SIZE = 7;

/** Raw UUID bytes identifying a client. */
export const CLIENT_ID_SIZE = 16;
/** Name and FileName fields: ASCII, NUL-terminated, zero-padded. */
export const NAME_FIELD_SIZE = 255;
/** Longest client name the client side accepts (the reference client's limit). */
export const MAX_CLIENT_NAME_LENGTH = 100;
/** Longest file name text: the field minus its terminating NUL. */
export const MAX_FILE_NAME_LENGTH = NAME_FIELD_SIZE - 1;
/** DER SubjectPublicKeyInfo of an RSA-1024 key with a small exponent (e=3 or e=17). */
export const PUBLIC_KEY_SIZE = 160;
/** RSA-1024 ciphertext of the wrapped AES key. */
export const ENCRYPTED_AES_KEY_SIZE = 128;
/** RSA modulus size in bits. */
export const RSA_MODULUS_BITS = 1024;
/** AES-256 key size in bytes. */
export const AES_KEY_SIZE = 32;
/** AES block size; also the CBC IV size (the IV is all zeros). */
export const AES_BLOCK_SIZE = 16;
/** The protocol's fixed AES-CBC IV: 16 zero bytes. Shared by every part: never write into it. */
export const ZERO_IV: Uint8Array = new Uint8Array(AES_BLOCK_SIZE);

/** 1028 fixed part: ContentSize(4) OrigSize(4) PacketNumber(2) TotalPackets(2) FileName(255). */
export const SEND_FILE_FIXED_SIZE = 4 + 4 + 2 + 2 + NAME_FIELD_SIZE;
/** 1603 payload: ClientId(16) ContentSize(4) FileName(255) Cksum(4). */
export const FILE_RECEIVED_PAYLOAD_SIZE = CLIENT_ID_SIZE + 4 + NAME_FIELD_SIZE + 4;
/** Packet numbers are u16, so a file has at most this many packets. */
export const MAX_PACKETS = 0xffff;
/** Largest u8 (the Version field). */
export const MAX_U8 = 0xff;
/** Largest u16 (Code fields). */
export const MAX_U16 = 0xffff;
/** Sizes are u32. */
export const MAX_U32 = 0xffffffff;
/** Largest plaintext whose ciphertext (plaintext + 1..16 bytes of padding) fits a u32. */
export const MAX_FILE_SIZE = MAX_U32 - AES_BLOCK_SIZE;
/** Attempts at sending one file before giving up with 1031 (the first plus three retries). */
export const MAX_SEND_ATTEMPTS = 4;

/** Default ciphertext bytes per 1028 packet (the C++ reference client uses 64 KiB too). */
export const DEFAULT_PACKET_SIZE = 64 * 1024;
/** Default cap on a request's declared payload size; a 1028 packet is the largest request. */
export const DEFAULT_MAX_REQUEST_PAYLOAD = 16 * 1024 * 1024;
/** Cap on a response's declared payload size; the largest response is 1603 (279 bytes). */
export const MAX_RESPONSE_PAYLOAD = 4096;
/** Default TCP port of the file server when port.info is missing. */
export const DEFAULT_SERVER_PORT = 1256;
/** Default port of the WebSocket bridge (not part of protocol v3; here so every part reads one value). */
export const DEFAULT_BRIDGE_PORT = 8080;
/** Default port of the web page (Next.js). */
export const DEFAULT_WEB_PORT = 3000;

/** Ciphertext size of `plainSize` bytes under AES-CBC with PKCS#7 padding, which always adds 1..16 bytes. */
export function ciphertextSize(plainSize: number): number {
  return AES_BLOCK_SIZE * (Math.floor(plainSize / AES_BLOCK_SIZE) + 1);
}
