/**
 * Sealed frames (docs/PROTOCOL.md, "Sealed"): AES-256-GCM, AAD = the 6-byte frame header,
 * nonce = iv XOR (0^4 || u64 BE seq), seq counting the frames of one direction and key
 * from 0. The sequence number is taken when seal() or open() is called, so callers must
 * send (and feed received frames) in call order.
 */
import { FRAME_HEADER_SIZE, FrameType, IV_SIZE, TAG_SIZE } from '../protocol/v4/constants';
import { encodeFrameHeader } from '../protocol/v4/frames';
import { V4Error } from './errors';
import type { DirectionKeys } from './key-schedule';
import { bs, subtle } from './keys';

export function recordNonce(iv: Uint8Array, seq: number): Uint8Array {
  const nonce = iv.slice();
  const view = new DataView(nonce.buffer);
  // 64-bit big-endian seq in the last 8 bytes; seq stays far below 2^53.
  view.setUint32(4, view.getUint32(4) ^ Math.floor(seq / 2 ** 32));
  view.setUint32(8, view.getUint32(8) ^ (seq % 2 ** 32));
  return nonce;
}

async function aesKey(raw: Uint8Array, usage: KeyUsage): Promise<CryptoKey> {
  return subtle().importKey('raw', bs(raw), 'AES-GCM', false, [usage]);
}

export class RecordSealer {
  readonly #key: Promise<CryptoKey>;
  readonly #iv: Uint8Array;
  #seq = 0;

  constructor(keys: DirectionKeys) {
    if (keys.iv.length !== IV_SIZE) throw new V4Error('V4_ERR_BAD_KEY', 'An IV is 12 bytes.');
    this.#key = aesKey(keys.key, 'encrypt');
    this.#iv = keys.iv;
  }

  /** The whole Sealed frame (header + ciphertext + tag) carrying `message`. */
  async seal(message: Uint8Array): Promise<Uint8Array> {
    const seq = this.#seq++;
    const header = encodeFrameHeader(FrameType.Sealed, message.length + TAG_SIZE);
    const sealed = await subtle().encrypt(
      { name: 'AES-GCM', iv: bs(recordNonce(this.#iv, seq)), additionalData: bs(header) },
      await this.#key,
      bs(message),
    );
    const frame = new Uint8Array(FRAME_HEADER_SIZE + sealed.byteLength);
    frame.set(header);
    frame.set(new Uint8Array(sealed), FRAME_HEADER_SIZE);
    return frame;
  }
}

export class RecordOpener {
  readonly #key: Promise<CryptoKey>;
  readonly #iv: Uint8Array;
  #seq = 0;

  constructor(keys: DirectionKeys) {
    this.#key = aesKey(keys.key, 'decrypt');
    this.#iv = keys.iv;
  }

  /** The message inside a Sealed frame's body; V4_ERR_RECORD if it does not verify. */
  async open(body: Uint8Array): Promise<Uint8Array> {
    const seq = this.#seq++;
    const header = encodeFrameHeader(FrameType.Sealed, body.length);
    try {
      const plain = await subtle().decrypt(
        { name: 'AES-GCM', iv: bs(recordNonce(this.#iv, seq)), additionalData: bs(header) },
        await this.#key,
        bs(body),
      );
      return new Uint8Array(plain);
    } catch (e) {
      throw new V4Error('V4_ERR_RECORD', 'A sealed frame did not verify.', { cause: e });
    }
  }
}
