/**
 * docs/protocol-v4-vectors.json: our code must reproduce it byte for byte, and the values in
 * it are re-derived here with node:crypto (an independent implementation of HKDF, SHA-256,
 * AES-GCM, Ed25519 and X25519), so the file says what the spec says, not only what our code
 * does: every frame is rebuilt from the inputs by the spec's layouts and sealed with node:crypto.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  sign as nodeSign,
  verify as nodeVerify,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { computeV4Vectors, PRIMITIVES, V4_VECTOR_INPUTS, vectorFile } from '../../test/support/v4-vectors';
import { bytesToHex, hexToBytes } from '../crypto/encoding';
import { isFatalCode } from '../protocol/v4/constants';
import { decodeMessage } from '../protocol/v4/messages';
import { ephemeralKeyFromSeed, hkdf, sharedSecret, sign, signingKeyFromSeed } from '.';

const FILE = new URL('../../docs/protocol-v4-vectors.json', import.meta.url);
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON, shape checked by the comparisons
const V: any = JSON.parse(readFileSync(FILE, 'utf8'));
const h = (s: string) => Buffer.from(s, 'hex');
const nodeHkdf = (ikm: string, salt: string, info: Buffer, n: number) =>
  Buffer.from(hkdfSync('sha256', h(ikm), h(salt), info, n)).toString('hex');
const I = V4_VECTOR_INPUTS;
/** The value at a dotted path of the file ("resume.session.binding"). */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON
const at = (path: string): any => path.split('.').reduce((o, k) => o?.[k], V);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const open = (key: string, nonce: Buffer, aad: Buffer, body: Buffer) => {
  const d = createDecipheriv('aes-256-gcm', h(key), nonce);
  d.setAAD(aad);
  d.setAuthTag(body.subarray(body.length - 16));
  return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]);
};
const seal = (key: string, nonce: Buffer, aad: Buffer, plain: Buffer) => {
  const c = createCipheriv('aes-256-gcm', h(key), nonce);
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
};
const nonce = (iv: string, seq: number) => {
  const n = h(iv);
  n.writeUInt32BE((n.readUInt32BE(8) ^ seq) >>> 0, 8);
  return n;
};

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

  it('every Sealed frame opens under the key, IV and seq that "sealed" names, and our codec reads it', () => {
    const listed = new Set<string>();
    for (const e of V.sealed as { frame: string; key: string; iv: string; seq: number }[]) {
      listed.add(e.frame);
      const frame = h(at(e.frame));
      expect(frame.subarray(0, 2).toString('hex')).toBe('0403');
      expect(frame.readUInt32LE(2)).toBe(frame.length - 6);
      const plain = open(at(e.key), nonce(at(e.iv), e.seq), frame.subarray(0, 6), frame.subarray(6));
      expect(
        seal(at(e.key), nonce(at(e.iv), e.seq), frame.subarray(0, 6), plain).equals(frame.subarray(6)),
      ).toBe(true);
      expect(() => decodeMessage(plain)).not.toThrow();
    }
    // Every Sealed frame in the file is listed.
    const found: string[] = [];
    const walk = (o: unknown, path: string) => {
      if (typeof o === 'string' && /Frame$/.test(path) && o.startsWith('0403')) found.push(path);
      else if (o && typeof o === 'object' && !Array.isArray(o))
        for (const [k, v] of Object.entries(o)) walk(v, path ? `${path}.${k}` : k);
    };
    walk(V, '');
    expect(found.sort()).toEqual([...listed].sort());
  });

  it('every frame is rebuilt from the inputs alone, as the spec lays it out (node:crypto)', () => {
    const R = I.resume;
    const u8 = (n: number) => Buffer.of(n);
    const u16 = (n: number) => Buffer.from([n & 0xff, n >> 8]);
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      return b;
    };
    const u64 = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const text16 = (s: string) => Buffer.concat([u16(Buffer.byteLength(s)), Buffer.from(s)]);
    const uid = h(I.uploadId);
    const welcome = (registered: boolean, max: number) =>
      Buffer.concat([u8(0x12), h(I.clientId), u8(registered ? 1 : 0), u64(max)]);
    const uploadStart = (resume: boolean) =>
      Buffer.concat([
        u8(0x20),
        uid,
        u8(resume ? 1 : 0),
        h(I.fileKey),
        u64(I.fileSize),
        u32(I.recordSize),
        text16(I.fileName),
      ]);
    const uploadReady = (next: number) => Buffer.concat([u8(0x21), uid, u64(next)]);
    const uploadDone = Buffer.concat([
      u8(0x22),
      uid,
      u64(I.fileSize),
      h(sha(Buffer.from(vectorFile(I.fileSize)))),
      text16(I.storedName),
    ]);
    const errorBody = (e: { code: number; fatal: boolean; reason: string }) =>
      Buffer.concat([u16(e.code), u8(e.fatal ? 1 : 0), text16(e.reason)]);
    const ed25519 = (seed: string) =>
      createPrivateKey({
        key: Buffer.concat([h('302e020100300506032b657004220420'), h(seed)]),
        format: 'der',
        type: 'pkcs8',
      });
    const rawPublic = (k: ReturnType<typeof createPrivateKey>) =>
      createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(-32);
    const auth = (type: number, seed: string, context: string, th: string) => {
      const key = ed25519(seed);
      const pub = rawPublic(key);
      return Buffer.concat([
        u8(type),
        pub,
        nodeSign(null, Buffer.concat([Buffer.from(context), h(th), pub]), key),
      ]);
    };
    const serverAuth = (th1: string) => auth(0x11, I.serverIdentitySeed, 'SFT v4 server signature\0', th1);
    const name = Buffer.from(I.clientName);
    const clientAuth = (th2: string, invite: string) =>
      Buffer.concat([
        auth(0x10, I.clientIdentitySeed, 'SFT v4 client signature\0', th2),
        u8(name.length),
        name,
        text16(invite),
      ]);
    const plaintexts: Record<string, Buffer> = {
      'handshake.serverAuthFrame': serverAuth(V.handshake.th1),
      'handshake.clientAuthFrame': clientAuth(V.session.th2, I.clientInvite),
      'clientAuthWithInvite.clientAuthFrame': clientAuth(V.session.th2, I.inviteToken),
      'resume.handshake.serverAuthFrame': serverAuth(V.resume.handshake.th1),
      'resume.handshake.clientAuthFrame': clientAuth(V.resume.session.th2, I.clientInvite),
      'messages.welcomeFrame': welcome(I.welcomeRegistered, I.welcomeMaxFileSize),
      'messages.uploadStartFrame': uploadStart(I.uploadStartResume),
      'messages.uploadReadyFrame': uploadReady(I.uploadReadyNextRecord),
      'messages.uploadDoneFrame': uploadDone,
      'messages.uploadAbortFrame': Buffer.concat([u8(0x23), uid]),
      'messages.uploadAbortedFrame': Buffer.concat([u8(0x24), uid]),
      'messages.errorNonFatalFrame': Buffer.concat([u8(0x7f), errorBody(I.errorNonFatal)]),
      'messages.errorFatalFrame': Buffer.concat([u8(0x7f), errorBody(I.errorFatal)]),
      'resume.messages.welcomeFrame': welcome(R.welcomeRegistered, R.welcomeMaxFileSize),
      'resume.messages.uploadStartFrame': uploadStart(R.uploadStartResume),
      'resume.messages.uploadReadyFrame': uploadReady(R.uploadReadyNextRecord),
      'resume.messages.uploadDoneFrame': uploadDone,
      'resume.messages.byeFrame': u8(0x30),
    };
    for (const e of V.sealed as { frame: string; key: string; iv: string; seq: number }[]) {
      const plain = plaintexts[e.frame];
      expect(plain, e.frame).toBeDefined();
      if (!plain) continue;
      const header = Buffer.concat([Buffer.of(4, 3), u32(plain.length + 16)]);
      const frame = Buffer.concat([header, seal(at(e.key), nonce(at(e.iv), e.seq), header, plain)]);
      expect(frame.toString('hex'), e.frame).toBe(at(e.frame));
    }
    const alert = errorBody(I.alert);
    expect(V.messages.alertFrame).toBe(
      Buffer.concat([Buffer.of(4, 5), u32(alert.length), alert]).toString('hex'),
    );
    // The flags agree with the code's table of which errors are fatal.
    for (const e of [I.alert, I.errorNonFatal, I.errorFatal]) expect(e.fatal).toBe(isFatalCode(e.code));
    expect(I.errorNonFatal.fatal).toBe(false);
    expect(I.errorFatal.fatal).toBe(true);
  });

  it('record 0, the Chunk frames and the empty file record (node:crypto)', () => {
    const st = V.stream;
    const plain = Buffer.from(vectorFile(I.fileSize));
    const rec0 = seal(st.streamKey, h(st.nonce0), Buffer.alloc(0), plain.subarray(0, 262144));
    expect(sha(rec0)).toBe(st.record0Sha256);
    expect(rec0.subarray(rec0.length - 16).toString('hex')).toBe(st.record0Tag);
    expect(st.chunkFrame0Header).toBe('040410000400');
    expect(sha(Buffer.concat([h(st.chunkFrame0Header), rec0]))).toBe(st.chunkFrame0Sha256);
    expect(st.chunkFrame1).toBe(`040474000000${st.record1}`);
    expect(st.nonce0Last).toBe(`${st.noncePrefix}0000000001`);
    expect(sha(Buffer.concat([Buffer.from('sft4 file key check', 'ascii'), h(I.fileKey)]))).toBe(
      st.fileKeyCheck,
    );
    expect(seal(st.streamKey, h(st.nonce0Last), Buffer.alloc(0), Buffer.alloc(0)).toString('hex')).toBe(
      st.emptyFileRecord,
    );
  });

  it('the ClientAuth with an invite: same signature, sealed under the client handshake key (node:crypto)', () => {
    const ca = h(V.clientAuthWithInvite.clientAuthPlaintext);
    expect(ca.subarray(33, 97).toString('hex')).toBe(V.handshake.clientAuthSignature);
    const nameLen = ca[97]!;
    expect(ca.readUInt16LE(98 + nameLen)).toBe(I.inviteToken.length);
    expect(ca.subarray(100 + nameLen).toString('ascii')).toBe(I.inviteToken);
    const hs = V.handshake;
    const t2 = Buffer.concat([
      h(hs.preamble),
      h(hs.clientHelloFrame),
      h(hs.serverHelloFrame),
      h(V.session.serverAuthPlaintext),
    ]);
    expect(sha(Buffer.concat([t2, ca]))).toBe(V.clientAuthWithInvite.th3);
    expect(V.clientAuthWithInvite.th3).not.toBe(V.session.th3);
  });

  it('the resumed session derives its own keys, so record 1 is sealed under another stream key (node:crypto)', () => {
    const R = V.resume;
    const x25519 = (seed: string) =>
      createPrivateKey({
        key: Buffer.concat([h('302e020100300506032b656e04220420'), h(seed)]),
        format: 'der',
        type: 'pkcs8',
      });
    const raw = (k: ReturnType<typeof createPrivateKey>) =>
      createPublicKey(k).export({ format: 'der', type: 'spki' }).subarray(-32).toString('hex');
    const c = x25519(I.resume.clientEphemeralSeed);
    const s = x25519(I.resume.serverEphemeralSeed);
    expect(raw(c)).toBe(R.handshake.clientEphemeralPublic);
    expect(raw(s)).toBe(R.handshake.serverEphemeralPublic);
    expect(diffieHellman({ privateKey: c, publicKey: createPublicKey(s) }).toString('hex')).toBe(
      R.handshake.sharedSecret,
    );
    expect(R.handshake.clientHelloFrame).toBe(`040122000000${'0100'}${R.handshake.clientEphemeralPublic}`);
    expect(R.handshake.serverHelloFrame).toBe(`040222000000${'0100'}${R.handshake.serverEphemeralPublic}`);
    const t1 = Buffer.concat([
      h(R.handshake.preamble),
      h(R.handshake.clientHelloFrame),
      h(R.handshake.serverHelloFrame),
    ]);
    expect(sha(t1)).toBe(R.handshake.th1);
    const t2 = Buffer.concat([t1, h(R.session.serverAuthPlaintext)]);
    expect(sha(t2)).toBe(R.session.th2);
    expect(sha(Buffer.concat([t2, h(R.session.clientAuthPlaintext)]))).toBe(R.session.th3);
    const lbl = (x: string) => Buffer.from(`sft4 ${x}`, 'ascii');
    const ss = R.handshake.sharedSecret;
    const keys = {
      clientHandshake: [R.handshake.th1, 'c hs'],
      serverHandshake: [R.handshake.th1, 's hs'],
      clientSession: [R.session.th3, 'c ap'],
      serverSession: [R.session.th3, 's ap'],
    } as const;
    for (const [name, [th, l]] of Object.entries(keys)) {
      const section = name.endsWith('Handshake') ? R.handshake : R.session;
      expect(nodeHkdf(ss, th, lbl(`${l} key`), 32)).toBe(section[`${name}Key`]);
      expect(nodeHkdf(ss, th, lbl(`${l} iv`), 12)).toBe(section[`${name}Iv`]);
    }
    expect(nodeHkdf(ss, R.session.th3, lbl('session'), 32)).toBe(R.session.binding);
    expect(R.session.binding).not.toBe(V.session.binding);
    // The same identities sign the new transcript.
    const spki = (k: string) =>
      createPublicKey({
        key: Buffer.concat([h('302a300506032b6570032100'), h(k)]),
        format: 'der',
        type: 'spki',
      });
    const sa = h(R.session.serverAuthPlaintext);
    const signedS = Buffer.concat([
      Buffer.from('SFT v4 server signature\0'),
      h(R.handshake.th1),
      sa.subarray(1, 33),
    ]);
    expect(nodeVerify(null, signedS, spki(V.handshake.serverIdentityPublic), sa.subarray(33, 97))).toBe(true);
    const ca = h(R.session.clientAuthPlaintext);
    const signedC = Buffer.concat([
      Buffer.from('SFT v4 client signature\0'),
      h(R.session.th2),
      ca.subarray(1, 33),
    ]);
    expect(nodeVerify(null, signedC, spki(V.handshake.clientIdentityPublic), ca.subarray(33, 97))).toBe(true);
    // The stream of the same upload under the new binding.
    const id = h(I.uploadId);
    expect(nodeHkdf(I.fileKey, R.session.binding, Buffer.concat([lbl('stream key'), id]), 32)).toBe(
      R.stream.streamKey,
    );
    expect(nodeHkdf(I.fileKey, R.session.binding, Buffer.concat([lbl('stream nonce'), id]), 7)).toBe(
      R.stream.noncePrefix,
    );
    expect(R.stream.streamKey).not.toBe(V.stream.streamKey);
    expect(R.stream.streamKeyDiffersFromFirstSession).toBe(true);
    const k = I.resume.uploadReadyNextRecord;
    expect(k).toBe(1);
    expect(R.stream.nonce1Last).toBe(`${R.stream.noncePrefix}0000000101`);
    const rec = open(R.stream.streamKey, h(R.stream.nonce1Last), Buffer.alloc(0), h(R.stream.record1));
    expect(rec.equals(Buffer.from(vectorFile(I.fileSize).subarray(k * 262144)))).toBe(true);
    expect(R.stream.record1).not.toBe(V.stream.record1);
    expect(R.stream.chunkFrame1).toBe(`040474000000${R.stream.record1}`);
  });
});
