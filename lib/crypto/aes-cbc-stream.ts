/**
 * Streaming AES-256-CBC (IV of 16 zero bytes, PKCS#7) over an injected WebCrypto
 * `SubtleCrypto`, as protocol v3 requires (docs/PROTOCOL.md "AES-256-CBC").
 *
 * WebCrypto only does one-shot CBC with padding, but CBC chains, so:
 * - encrypt: each run of whole blocks is encrypted with IV = last ciphertext block so far,
 *   and the padding block WebCrypto appends is dropped; final() encrypts the < 16 byte
 *   remainder with real padding.
 * - decrypt: to decrypt a run of whole blocks C1..Cn without WebCrypto rejecting the
 *   padding, append S = E(k, Cn XOR 0x10*16) (first block of CBC-encrypting sixteen 0x10
 *   bytes with IV = Cn); S decrypts to a full padding block that WebCrypto strips, leaving
 *   exactly the plaintext of C1..Cn. The last block is held back until final(), which
 *   decrypts it the same way and checks the real PKCS#7 padding itself.
 * Memory: at most one chunk plus one block is held.
 */
import { AES_BLOCK_SIZE, AES_KEY_SIZE, ciphertextSize, ZERO_IV } from '../protocol/constants';
import { CryptoError } from './errors';

/** An incremental cipher: update() returns the output ready so far, final() the rest. */
export interface ChunkCipher {
  update(chunk: Uint8Array): Promise<Uint8Array>;
  final(): Promise<Uint8Array>;
}

// `as Uint8Array<ArrayBuffer>` below: TS 5.9's BufferSource excludes SharedArrayBuffer views;
// our inputs are never shared, and WebCrypto copies them on call.
/** A whole PKCS#7 padding block: sixteen bytes of 16. */
const FULL_PADDING_BLOCK = new Uint8Array(AES_BLOCK_SIZE).fill(AES_BLOCK_SIZE);
const EMPTY = new Uint8Array(0);

/** Re-exported for the crypto API's users; the rule itself is a protocol constant. */
export { ciphertextSize };

/** Imports raw key bytes as a non-extractable AES-CBC key; passes CryptoKeys through. */
async function toAesKey(subtle: SubtleCrypto, key: Uint8Array | CryptoKey): Promise<CryptoKey> {
  if (!(key instanceof Uint8Array)) return key;
  if (key.length !== AES_KEY_SIZE) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_LENGTH',
      `AES key must be ${AES_KEY_SIZE} bytes, got ${key.length}.`,
    );
  }
  return subtle.importKey('raw', key as Uint8Array<ArrayBuffer>, { name: 'AES-CBC' }, false, [
    'encrypt',
    'decrypt',
  ]);
}

/** Concatenates two byte arrays (either may be empty). */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Copies the last block of `bytes` (so later reuse of the caller's buffer cannot change it). */
function lastBlock(bytes: Uint8Array): Uint8Array {
  return bytes.slice(bytes.length - AES_BLOCK_SIZE);
}

/** CBC-encrypts with WebCrypto's padding; returns the full output (input + 1..16 bytes). */
async function cbcEncrypt(subtle: SubtleCrypto, key: CryptoKey, iv: Uint8Array, data: Uint8Array) {
  const out = await subtle.encrypt(
    { name: 'AES-CBC', iv: iv as Uint8Array<ArrayBuffer> },
    key,
    data as Uint8Array<ArrayBuffer>,
  );
  return new Uint8Array(out);
}

/** Shared guard: one call at a time, nothing after final(). */
class CallGuard {
  #busy = false;
  #finished = false;

  /** Runs `op` exclusively; `last` marks the cipher finished afterwards (even on failure). */
  async run<T>(what: string, last: boolean, op: () => Promise<T>): Promise<T> {
    if (this.#finished) {
      throw new CryptoError('CRYPTO_ERR_STATE', `${what} was called after final(); create a new cipher.`);
    }
    if (this.#busy) {
      throw new CryptoError(
        'CRYPTO_ERR_STATE',
        `${what} was called before the previous call finished; await it.`,
      );
    }
    this.#busy = true;
    try {
      return await op();
    } finally {
      this.#busy = false;
      if (last) this.#finished = true;
    }
  }
}

/** Streaming AES-256-CBC encryptor, zero IV, PKCS#7. Output concatenated = one-shot ciphertext. */
export async function createAesCbcEncryptor(
  subtle: SubtleCrypto,
  key: Uint8Array | CryptoKey,
): Promise<ChunkCipher> {
  const aesKey = await toAesKey(subtle, key);
  const guard = new CallGuard();
  let iv: Uint8Array = ZERO_IV;
  /** Plaintext not yet encrypted: fewer than 16 bytes. */
  let pending: Uint8Array = EMPTY;

  return {
    update: (chunk) =>
      guard.run('update()', false, async () => {
        const data = concat(pending, chunk);
        const whole = data.length - (data.length % AES_BLOCK_SIZE);
        pending = data.slice(whole);
        if (whole === 0) return EMPTY;
        const out = await cbcEncrypt(subtle, aesKey, iv, data.subarray(0, whole));
        const ciphertext = out.subarray(0, whole); // drop WebCrypto's padding block
        iv = lastBlock(ciphertext);
        return ciphertext;
      }),
    final: () =>
      guard.run('final()', true, async () => {
        // The remainder (0..15 bytes) with real padding: exactly one block.
        return cbcEncrypt(subtle, aesKey, iv, pending);
      }),
  };
}

/** Checks PKCS#7 padding of the last plaintext block; returns the data bytes in front of it. */
function stripPadding(block: Uint8Array): Uint8Array {
  const pad = block[AES_BLOCK_SIZE - 1]!;
  let ok = pad >= 1 && pad <= AES_BLOCK_SIZE;
  for (let i = AES_BLOCK_SIZE - pad; ok && i < AES_BLOCK_SIZE; i++) ok = block[i] === pad;
  if (!ok) {
    throw new CryptoError(
      'CRYPTO_ERR_BAD_PADDING',
      'Decryption produced invalid PKCS#7 padding: wrong key or corrupted ciphertext.',
    );
  }
  return block.slice(0, AES_BLOCK_SIZE - pad);
}

/** Streaming AES-256-CBC decryptor, zero IV; final() validates PKCS#7. */
export async function createAesCbcDecryptor(
  subtle: SubtleCrypto,
  key: Uint8Array | CryptoKey,
): Promise<ChunkCipher> {
  const aesKey = await toAesKey(subtle, key);
  const guard = new CallGuard();
  let iv: Uint8Array = ZERO_IV;
  /** Ciphertext not yet decrypted: a partial block, or the last whole block held back (<= 16 bytes). */
  let pending: Uint8Array = EMPTY;

  /** Plaintext of whole blocks `blocks`, unpadded, via the synthetic padding-block trick. */
  async function decryptBlocks(blocks: Uint8Array): Promise<Uint8Array> {
    const last = lastBlock(blocks);
    const synthetic = (await cbcEncrypt(subtle, aesKey, last, FULL_PADDING_BLOCK)).subarray(
      0,
      AES_BLOCK_SIZE,
    );
    const input = new Uint8Array(blocks.length + AES_BLOCK_SIZE);
    input.set(blocks, 0);
    input.set(synthetic, blocks.length);
    const out = await subtle.decrypt(
      { name: 'AES-CBC', iv: iv as Uint8Array<ArrayBuffer> },
      aesKey,
      input as Uint8Array<ArrayBuffer>,
    );
    iv = last;
    return new Uint8Array(out);
  }

  return {
    update: (chunk) =>
      guard.run('update()', false, async () => {
        const data = concat(pending, chunk);
        // Hold back the partial block, or the last whole block when the data ends on a boundary.
        const partial = data.length % AES_BLOCK_SIZE;
        const hold = partial === 0 ? Math.min(AES_BLOCK_SIZE, data.length) : partial;
        const ready = data.length - hold;
        pending = data.slice(ready);
        if (ready === 0) return EMPTY;
        return decryptBlocks(data.subarray(0, ready));
      }),
    final: () =>
      guard.run('final()', true, async () => {
        if (pending.length !== AES_BLOCK_SIZE) {
          throw new CryptoError(
            'CRYPTO_ERR_BAD_LENGTH',
            'Ciphertext length is not a positive multiple of 16 bytes: it is truncated or not AES-CBC.',
          );
        }
        return stripPadding(await decryptBlocks(pending));
      }),
  };
}
