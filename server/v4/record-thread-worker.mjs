// @ts-check
/**
 * The record thread (started by record-thread.ts): AES-256-GCM opening and SHA-256 hashing of
 * protocol v4 file records, off the event loop. Together they were 28% of the server's CPU
 * samples during an upload, all on its main thread, which was the limit of the CLI path
 * (bench/README.md, "The record thread").
 *
 * Plain JavaScript, type-checked (`// @ts-check`, JSDoc types) and linted like the rest: a
 * worker thread runs it with no TypeScript loader. It knows nothing of the protocol: the main
 * thread gives each record's key, nonce and sealed bytes, in order, and gets back the
 * plaintext (the decipher's own buffer) and the sealed buffer, both transferred, not copied.
 * Messages are answered in the order they came.
 */
import { createDecipheriv, createHash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

const TAG = 16;

/**
 * `begin`: a stream (one upload on one connection) with its record key; `hash`: keep the
 * SHA-256 of its plaintexts in order. `open`: one sealed record (ciphertext || tag), its
 * buffer transferred; `digest`: the SHA-256 so far, and the stream ends; `end`: the stream ends.
 * @typedef {{ op: 'begin'; id: number; key: Uint8Array; hash: boolean }
 *   | { op: 'open'; id: number; nonce: Uint8Array; sealed: Uint8Array }
 *   | { op: 'digest'; id: number }
 *   | { op: 'end'; id: number }} RecordRequest
 */

/**
 * The answer to `open`: `plain` the plaintext, `buffer` the sealed record's own (given back,
 * for reuse); ok false when the tag did not verify or the stream is unknown. The answer to
 * `digest`: the SHA-256 (null when the stream kept none).
 * @typedef {{ ok: true; buffer: ArrayBuffer; plain: ArrayBuffer }
 *   | { ok: false; buffer: ArrayBuffer; reason: string }
 *   | { digest: Uint8Array | null }} RecordReply
 */

/** @type {Map<number, { key: Uint8Array; hash: import('node:crypto').Hash | null }>} */
const streams = new Map();
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);

/**
 * The plaintext of the sealed bytes in an ArrayBuffer of its own (the decipher's output, sent
 * as it is rather than copied back into the sealed buffer); the reason when it does not verify.
 * @param {{ key: Uint8Array; hash: import('node:crypto').Hash | null }} s
 * @param {Uint8Array} nonce
 * @param {Uint8Array} sealed
 * @returns {ArrayBuffer | string}
 */
function open(s, nonce, sealed) {
  if (sealed.length < TAG) return 'A record is at least its tag.';
  const d = createDecipheriv('aes-256-gcm', s.key, nonce);
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  const plain = d.update(sealed.subarray(0, sealed.length - TAG));
  try {
    d.final();
  } catch {
    return 'The tag did not verify.';
  }
  s.hash?.update(plain);
  // node:crypto gives each output a buffer of its own; copied only if it ever does not.
  const own = plain.byteOffset === 0 && plain.byteLength === plain.buffer.byteLength;
  return /** @type {ArrayBuffer} */ (own ? plain.buffer : new Uint8Array(plain).buffer);
}

port.on('message', (/** @type {RecordRequest} */ m) => {
  switch (m.op) {
    case 'begin':
      streams.set(m.id, { key: m.key, hash: m.hash ? createHash('sha256') : null });
      return;
    case 'open': {
      const s = streams.get(m.id);
      const sealed = m.sealed;
      const result = s ? open(s, m.nonce, sealed) : 'The stream is not open.';
      // A record that did not verify ends its stream: nothing later of it is hashed.
      const buffer = /** @type {ArrayBuffer} */ (sealed.buffer);
      if (typeof result === 'string') {
        streams.delete(m.id);
        /** @type {RecordReply} */
        const refused = { ok: false, buffer, reason: result };
        port.postMessage(refused, [buffer]);
        return;
      }
      /** @type {RecordReply} */
      const reply = { ok: true, buffer, plain: result };
      port.postMessage(reply, [buffer, result]);
      return;
    }
    case 'digest': {
      const hash = streams.get(m.id)?.hash;
      streams.delete(m.id);
      /** @type {RecordReply} */
      const reply = { digest: hash ? new Uint8Array(hash.digest()) : null };
      port.postMessage(reply);
      return;
    }
    case 'end':
      streams.delete(m.id);
      return;
  }
});
