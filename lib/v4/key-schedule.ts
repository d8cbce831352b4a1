/**
 * The v4 key schedule (docs/PROTOCOL.md, "Key schedule"): the X25519 shared secret, the
 * transcript hash, and every key derived from them with HKDF-SHA256.
 */
import { concatBytes } from '../protocol/bytes';
import { IV_SIZE, KEY_SIZE, STREAM_PREFIX_SIZE } from '../protocol/v4/constants';
import { V4Error } from './errors';
import { bs, subtle } from './keys';

const ascii = new TextEncoder();

export async function sha256(data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await subtle().digest('SHA-256', bs(data)));
}

/** HKDF-SHA256 (RFC 5869, extract and expand) of `length` bytes. */
export async function hkdf(
  ikm: Uint8Array,
  salt: Uint8Array,
  info: Uint8Array,
  length: number,
): Promise<Uint8Array> {
  const key = await subtle().importKey('raw', bs(ikm), 'HKDF', false, ['deriveBits']);
  const bits = await subtle().deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: bs(salt), info: bs(info) },
    key,
    length * 8,
  );
  return new Uint8Array(bits);
}

/** "sft4 " + label, the info of every derivation. */
export function label(text: string, ...rest: Uint8Array[]): Uint8Array {
  return concatBytes([ascii.encode(`sft4 ${text}`), ...rest]);
}

/** X25519 of our ephemeral private key and the peer's raw public key; refuses the all-zero result. */
export async function sharedSecret(privateKey: CryptoKey, peerRaw: Uint8Array): Promise<Uint8Array> {
  let bits: ArrayBuffer;
  try {
    const peer = await subtle().importKey('raw', bs(peerRaw), { name: 'X25519' }, false, []);
    bits = await subtle().deriveBits({ name: 'X25519', public: peer }, privateKey, 256);
  } catch (e) {
    throw new V4Error('V4_ERR_BAD_KEY', 'The peer ephemeral key cannot be used.', { cause: e });
  }
  const ss = new Uint8Array(bits);
  // A small-order peer key gives zeros (RFC 7748 section 6.1): no secret, refuse.
  if (ss.every((b) => b === 0)) throw new V4Error('V4_ERR_BAD_KEY', 'The shared secret is all zero.');
  return ss;
}

/** Key and IV of one direction. */
export interface DirectionKeys {
  key: Uint8Array;
  iv: Uint8Array;
}

async function direction(
  ss: Uint8Array,
  th: Uint8Array,
  side: 'c' | 's',
  stage: 'hs' | 'ap',
): Promise<DirectionKeys> {
  return {
    key: await hkdf(ss, th, label(`${side} ${stage} key`), KEY_SIZE),
    iv: await hkdf(ss, th, label(`${side} ${stage} iv`), IV_SIZE),
  };
}

export interface HandshakeKeys {
  client: DirectionKeys;
  server: DirectionKeys;
}

export interface SessionKeys extends HandshakeKeys {
  /** Ties file records to this session; never sent. */
  binding: Uint8Array;
}

export async function handshakeKeys(ss: Uint8Array, th1: Uint8Array): Promise<HandshakeKeys> {
  return { client: await direction(ss, th1, 'c', 'hs'), server: await direction(ss, th1, 's', 'hs') };
}

export async function sessionKeys(ss: Uint8Array, th3: Uint8Array): Promise<SessionKeys> {
  return {
    client: await direction(ss, th3, 'c', 'ap'),
    server: await direction(ss, th3, 's', 'ap'),
    binding: await hkdf(ss, th3, label('session'), KEY_SIZE),
  };
}

export interface StreamKeys {
  key: Uint8Array;
  prefix: Uint8Array;
}

/** The stream key and nonce prefix of one upload on one session. */
export async function streamKeys(
  fileKey: Uint8Array,
  binding: Uint8Array,
  uploadId: Uint8Array,
): Promise<StreamKeys> {
  return {
    key: await hkdf(fileKey, binding, label('stream key', uploadId), KEY_SIZE),
    prefix: await hkdf(fileKey, binding, label('stream nonce', uploadId), STREAM_PREFIX_SIZE),
  };
}

/** What the server keeps to recognise the file key of a resumed upload. */
export function fileKeyCheck(fileKey: Uint8Array): Promise<Uint8Array> {
  return sha256(concatBytes([label('file key check'), fileKey]));
}

/** The running transcript: bytes as sent, hashed at the points the schedule needs. */
export class Transcript {
  #parts: Uint8Array[] = [];
  add(bytes: Uint8Array): void {
    this.#parts.push(bytes.slice());
  }
  hash(): Promise<Uint8Array> {
    return sha256(concatBytes(this.#parts));
  }
}
