/**
 * docs/protocol-v4-vectors.json: our code must reproduce it byte for byte, and the values in
 * it are re-derived here with node:crypto (an independent implementation of HKDF, SHA-256,
 * AES-GCM and Ed25519), so the file says what the spec says, not only what our code does.
 */
import { createDecipheriv, createHash, createPublicKey, hkdfSync, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeV4Vectors, PRIMITIVES, V4_VECTOR_INPUTS, vectorFile } from '../../test/support/v4-vectors';
import { bytesToHex, hexToBytes } from '../crypto/encoding';
import { ephemeralKeyFromSeed, hkdf, sharedSecret, sign, signingKeyFromSeed } from '.';

const FILE = new URL('../../docs/protocol-v4-vectors.json', import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, shape checked by the comparisons
const V: any = JSON.parse(readFileSync(FILE, 'utf8'));
const h = (s: string) => Buffer.from(s, 'hex');
const nodeHkdf = (ikm: string, salt: string, info: Buffer, n: number) =>
  Buffer.from(hkdfSync('sha256', h(ikm), h(salt), info, n)).toString('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('protocol v4 known-answer vectors', () => {
  it('our code reproduces the vector file exactly', async () => {
    expect(await computeV4Vectors()).toEqual(V);
  });

  it('the primitives match their RFC vectors through WebCrypto', async () => {
    const alice = await ephemeralKeyFromSeed(hexToBytes(PRIMITIVES.x25519.alicePrivate));
    expect(bytesToHex(alice.publicRaw)).toBe(PRIMITIVES.x25519.alicePublic);
    const ss = await sharedSecret(alice.privateKey, hexToBytes(PRIMITIVES.x25519.bobPublic));
    expect(bytesToHex(ss)).toBe(PRIMITIVES.x25519.shared);
    const ed = await signingKeyFromSeed(hexToBytes(PRIMITIVES.ed25519.secret));
    expect(bytesToHex(ed.publicRaw)).toBe(PRIMITIVES.ed25519.public);
    expect(bytesToHex(await sign(ed.privateKey, new Uint8Array(0)))).toBe(PRIMITIVES.ed25519.signature);
    const { ikm, salt, info, length, okm } = PRIMITIVES.hkdf;
    expect(bytesToHex(await hkdf(hexToBytes(ikm), hexToBytes(salt), hexToBytes(info), length))).toBe(okm);
  });

  it('the transcript hashes and keys follow the spec (node:crypto)', () => {
    const hs = V.handshake;
    const se = V.session;
    expect(sha(Buffer.concat([h(hs.preamble), h(hs.clientHelloFrame), h(hs.serverHelloFrame)]))).toBe(hs.th1);
    const t2 = Buffer.concat([
      h(hs.preamble),
      h(hs.clientHelloFrame),
      h(hs.serverHelloFrame),
      h(se.serverAuthPlaintext),
    ]);
    expect(sha(t2)).toBe(se.th2);
    expect(sha(Buffer.concat([t2, h(se.clientAuthPlaintext)]))).toBe(se.th3);
    const lbl = (s: string) => Buffer.from(`sft4 ${s}`, 'ascii');
    expect(nodeHkdf(hs.sharedSecret, hs.th1, lbl('c hs key'), 32)).toBe(hs.clientHandshakeKey);
    expect(nodeHkdf(hs.sharedSecret, hs.th1, lbl('s hs iv'), 12)).toBe(hs.serverHandshakeIv);
    expect(nodeHkdf(hs.sharedSecret, se.th3, lbl('c ap key'), 32)).toBe(se.clientSessionKey);
    expect(nodeHkdf(hs.sharedSecret, se.th3, lbl('s ap iv'), 12)).toBe(se.serverSessionIv);
    expect(nodeHkdf(hs.sharedSecret, se.th3, lbl('session'), 32)).toBe(se.binding);
    const id = h(V4_VECTOR_INPUTS.uploadId);
    const fk = V4_VECTOR_INPUTS.fileKey;
    expect(nodeHkdf(fk, se.binding, Buffer.concat([lbl('stream key'), id]), 32)).toBe(V.stream.streamKey);
    expect(nodeHkdf(fk, se.binding, Buffer.concat([lbl('stream nonce'), id]), 7)).toBe(V.stream.noncePrefix);
  });

  it('the signatures verify as the spec says (node:crypto Ed25519)', () => {
    const spki = (raw: string) =>
      createPublicKey({
        key: Buffer.concat([h('302a300506032b6570032100'), h(raw)]),
        format: 'der',
        type: 'spki',
      });
    const sa = h(V.session.serverAuthPlaintext);
    expect(sa.subarray(1, 33).toString('hex')).toBe(V.handshake.serverIdentityPublic);
    const sSigned = Buffer.concat([
      Buffer.from('SFT v4 server signature\0'),
      h(V.handshake.th1),
      sa.subarray(1, 33),
    ]);
    expect(nodeVerify(null, sSigned, spki(V.handshake.serverIdentityPublic), sa.subarray(33, 97))).toBe(true);
    const ca = h(V.session.clientAuthPlaintext);
    const cSigned = Buffer.concat([
      Buffer.from('SFT v4 client signature\0'),
      h(V.session.th2),
      ca.subarray(1, 33),
    ]);
    expect(nodeVerify(null, cSigned, spki(V.handshake.clientIdentityPublic), ca.subarray(33, 97))).toBe(true);
  });

  it('sealed frames and file records open with node:crypto AES-256-GCM', () => {
    const open = (key: string, nonce: Buffer, aad: Buffer, body: Buffer) => {
      const d = createDecipheriv('aes-256-gcm', h(key), nonce);
      d.setAAD(aad);
      d.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
    };
    const nonce = (iv: string, seq: number) => {
      const n = h(iv);
      n.writeUInt32BE((n.readUInt32BE(8) ^ seq) >>> 0, 8);
      return n;
    };
    // ServerAuth: server handshake key, seq 0.
    const sAuth = h(V.handshake.serverAuthFrame);
    expect(
      open(
        V.handshake.serverHandshakeKey,
        nonce(V.handshake.serverHandshakeIv, 0),
        sAuth.subarray(0, 6),
        sAuth.subarray(6),
      ).toString('hex'),
    ).toBe(V.session.serverAuthPlaintext);
    // Welcome, UploadReady, UploadDone: server session key, seq 0, 1, 2.
    const done = h(V.messages.uploadDoneFrame);
    const plain = open(
      V.session.serverSessionKey,
      nonce(V.session.serverSessionIv, 2),
      done.subarray(0, 6),
      done.subarray(6),
    );
    expect(plain[0]).toBe(0x22);
    expect(plain.subarray(25, 57).toString('hex')).toBe(V.stream.plaintextSha256);
    const start = h(V.messages.uploadStartFrame);
    const us = open(
      V.session.clientSessionKey,
      nonce(V.session.clientSessionIv, 0),
      start.subarray(0, 6),
      start.subarray(6),
    );
    expect(us.subarray(18, 50).toString('hex')).toBe(V4_VECTOR_INPUTS.fileKey);
    // The last record of the file (100 bytes) under nonce prefix || 00000001 || 01.
    const rec1 = open(V.stream.streamKey, h(V.stream.nonce1Last), Buffer.alloc(0), h(V.stream.record1));
    expect(V.stream.nonce1Last).toBe(`${V.stream.noncePrefix}0000000101`);
    expect(rec1.equals(Buffer.from(vectorFile(V4_VECTOR_INPUTS.fileSize).subarray(262144)))).toBe(true);
    expect(sha(Buffer.from(vectorFile(V4_VECTOR_INPUTS.fileSize)))).toBe(V.stream.plaintextSha256);
  });
});
