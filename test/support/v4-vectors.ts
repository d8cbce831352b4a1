/**
 * Known-answer vectors of protocol v4 (docs/protocol-v4-vectors.json): two whole sessions of
 * one client with fixed keys (the second resuming the first's upload), run through lib/v4 and
 * lib/protocol/v4 and recorded byte for byte. `npm run v4-vectors` rewrites
 * the file; lib/v4/vectors.test.ts recomputes it and compares. The inputs are fixed seeds;
 * X25519, Ed25519, HKDF and AES-GCM are deterministic, so every output is too.
 */
import { bytesToHex, hexToBytes } from '../../lib/crypto/encoding';
import {
  CLIENT_TO_SERVER_FRAMES,
  FRAME_HEADER_SIZE,
  FrameType,
  MessageType,
  RECORD_SIZE,
  SERVER_TO_CLIENT_FRAMES,
} from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame, encodePreamble, type Frame } from '../../lib/protocol/v4/frames';
import { encodeAlert } from '../../lib/protocol/v4/messages';
import {
  ClientHandshake,
  ephemeralKeyFromSeed,
  fileKeyCheck,
  fingerprint,
  handshakeKeys,
  RecordOpener,
  ServerHandshake,
  StreamSealer,
  sessionKeys,
  sha256,
  sharedSecret,
  signingKeyFromSeed,
  streamKeys,
  streamNonce,
  Transcript,
} from '../../lib/v4';

const fill = (n: number, f: (i: number) => number) => Uint8Array.from({ length: n }, (_, i) => f(i));

/** A token shaped like an invite (sfi1.payload.signature) whose signature is bytes 0..63, not a real one. */
const INVITE_TOKEN =
  'sfi1.eyJ2IjoxLCJpZCI6IjAxMjM0NTY3ODlhYmNkZWYiLCJsYWJlbCI6InZlY3RvcnMiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMjU5MjAwMCwibWF4Qnl0ZXMiOm51bGwsIm1heEZpbGVzIjpudWxsLCJtYXhDbGllbnRzIjoxfQ.' +
  'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0-Pw';

export const V4_VECTOR_INPUTS = {
  clientEphemeralSeed: bytesToHex(fill(32, (i) => 0x10 + i)),
  serverEphemeralSeed: bytesToHex(fill(32, (i) => 0x30 + i)),
  clientIdentitySeed: bytesToHex(fill(32, (i) => 0x50 + i)),
  serverIdentitySeed: bytesToHex(fill(32, (i) => 0x70 + i)),
  clientName: 'alice',
  clientId: bytesToHex(fill(16, (i) => 0xa0 + i)),
  uploadId: bytesToHex(fill(16, (i) => 0xc0 + i)),
  fileKey: bytesToHex(fill(32, (i) => 0xe0 - i)),
  fileName: 'report.pdf',
  /** One full record and a last record of 100 bytes. */
  fileSize: RECORD_SIZE + 100,
  storedName: 'report.pdf',
  fileContent: 'byte i of the file (i from 0) is i mod 251',
  suite: 1,
  recordSize: RECORD_SIZE,
  /** ClientAuth's invite in both sessions: none (invite length 0). */
  clientInvite: '',
  welcomeRegistered: true,
  welcomeMaxFileSize: 64 * 1024 ** 3,
  uploadStartResume: false,
  uploadReadyNextRecord: 0,
  alert: { code: 9, fatal: true, reason: 'The server is busy; try again in a moment.' },
  errorNonFatal: {
    code: 12,
    fatal: false,
    reason: 'The upload does not match the one the server holds; it starts again.',
  },
  errorFatal: { code: 16, fatal: true, reason: 'The server failed; try again later.' },
  inviteToken: INVITE_TOKEN,
  /** The second connection: same identities, client ID, upload ID, file key, file and names. */
  resume: {
    clientEphemeralSeed: bytesToHex(fill(32, (i) => 0x90 + i)),
    serverEphemeralSeed: bytesToHex(fill(32, (i) => 0xb0 + i)),
    welcomeRegistered: false,
    welcomeMaxFileSize: 64 * 1024 ** 3,
    uploadStartResume: true,
    uploadReadyNextRecord: 1,
  },
};

export function vectorFile(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = i % 251;
  return out;
}

const hex = bytesToHex;

function frames(decoder: FrameDecoder, bytes: Uint8Array): Frame[] {
  return decoder.push(bytes);
}

/**
 * One whole handshake through lib/v4 (ClientHandshake and ServerHandshake, frames through the
 * frame decoders) with fixed ephemeral seeds, the server sealing Welcome; then the schedule's
 * intermediate values recomputed from the transcript as the spec writes it.
 */
async function runHandshake(
  ephemeral: { clientEphemeralSeed: string; serverEphemeralSeed: string },
  invite: string,
  welcome: { welcomeRegistered: boolean; welcomeMaxFileSize: number },
) {
  const I = V4_VECTOR_INPUTS;
  const cEph = await ephemeralKeyFromSeed(hexToBytes(ephemeral.clientEphemeralSeed));
  const sEph = await ephemeralKeyFromSeed(hexToBytes(ephemeral.serverEphemeralSeed));
  const cId = await signingKeyFromSeed(hexToBytes(I.clientIdentitySeed));
  const sId = await signingKeyFromSeed(hexToBytes(I.serverIdentitySeed));

  const client = new ClientHandshake({
    identity: cId,
    name: I.clientName,
    invite,
    ephemeral: cEph,
    checkServerKey: () => {},
  });
  const server = new ServerHandshake({ identity: sId, ephemeral: sEph });
  const toServer = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, preamble: true });
  const toClient = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });

  const first = await client.start();
  const [hello] = frames(toServer, first);
  const serverFlight = (await server.onFrame(hello!)).send!;
  const [sHello, sAuth] = frames(toClient, serverFlight);
  await client.onFrame(sHello!);
  const clientAuthFrame = (await client.onFrame(sAuth!)).send!;
  const [cAuth] = frames(toServer, clientAuthFrame);
  const { session: sSession, clientAuth } = (await server.onFrame(cAuth!)).done!;
  const welcomeFrame = await sSession.seal({
    type: MessageType.Welcome,
    clientId: hexToBytes(I.clientId),
    registered: welcome.welcomeRegistered,
    maxFileSize: welcome.welcomeMaxFileSize,
  });
  const [welcomeMsg] = frames(toClient, welcomeFrame);
  const { session: cSession } = (await client.onFrame(welcomeMsg!)).done!;

  const preamble = encodePreamble();
  const clientHelloFrame = first.subarray(preamble.length);
  const serverHelloFrame = encodeFrame(FrameType.ServerHello, sHello!.body);
  const ss = await sharedSecret(cEph.privateKey, sEph.publicRaw);
  const t = new Transcript();
  for (const p of [preamble, clientHelloFrame, serverHelloFrame]) t.add(p);
  const th1 = await t.hash();
  const hs = await handshakeKeys(ss, th1);
  const serverAuthPlain = await new RecordOpener(hs.server).open(sAuth!.body);
  t.add(serverAuthPlain);
  const th2 = await t.hash();
  const clientAuthPlain = await new RecordOpener(hs.client).open(cAuth!.body);
  t.add(clientAuthPlain);
  const th3 = await t.hash();
  const ap = await sessionKeys(ss, th3);

  return {
    cSession,
    sSession,
    welcomeFrame,
    clientAuthFrame,
    clientAuthPlain,
    th3,
    handshake: {
      clientEphemeralPublic: hex(cEph.publicRaw),
      serverEphemeralPublic: hex(sEph.publicRaw),
      clientIdentityPublic: hex(cId.publicRaw),
      serverIdentityPublic: hex(sId.publicRaw),
      serverFingerprint: await fingerprint(sId.publicRaw),
      preamble: hex(preamble),
      clientHelloFrame: hex(clientHelloFrame),
      serverHelloFrame: hex(serverHelloFrame),
      sharedSecret: hex(ss),
      th1: hex(th1),
      clientHandshakeKey: hex(hs.client.key),
      clientHandshakeIv: hex(hs.client.iv),
      serverHandshakeKey: hex(hs.server.key),
      serverHandshakeIv: hex(hs.server.iv),
      serverAuthFrame: hex(encodeFrame(FrameType.Sealed, sAuth!.body)),
      clientAuthFrame: hex(clientAuthFrame),
      clientAuthSignature: hex(clientAuth.signature),
    },
    session: {
      serverAuthPlaintext: hex(serverAuthPlain),
      th2: hex(th2),
      clientAuthPlaintext: hex(clientAuthPlain),
      th3: hex(th3),
      clientSessionKey: hex(ap.client.key),
      clientSessionIv: hex(ap.client.iv),
      serverSessionKey: hex(ap.server.key),
      serverSessionIv: hex(ap.server.iv),
      binding: hex(ap.binding),
      bindingMatchesBothSides:
        hex(cSession.binding) === hex(sSession.binding) && hex(ap.binding) === hex(cSession.binding),
    },
  };
}

/** Plaintext bytes of record `index` of the vector file. */
function recordOf(plain: Uint8Array, index: number): Uint8Array {
  return plain.subarray(index * RECORD_SIZE, Math.min((index + 1) * RECORD_SIZE, plain.length));
}

/**
 * Every Sealed frame in the file: where it is, the key and IV it is sealed under (paths in
 * the file) and its sequence number. lib/v4/vectors.test.ts opens each one as listed.
 */
const SEALED: readonly { frame: string; key: string; iv: string; seq: number }[] = [
  ['handshake.serverAuthFrame', 'handshake.serverHandshake', 0],
  ['handshake.clientAuthFrame', 'handshake.clientHandshake', 0],
  ['clientAuthWithInvite.clientAuthFrame', 'handshake.clientHandshake', 0],
  ['messages.welcomeFrame', 'session.serverSession', 0],
  ['messages.uploadReadyFrame', 'session.serverSession', 1],
  ['messages.uploadDoneFrame', 'session.serverSession', 2],
  ['messages.uploadAbortedFrame', 'session.serverSession', 3],
  ['messages.errorNonFatalFrame', 'session.serverSession', 4],
  ['messages.errorFatalFrame', 'session.serverSession', 5],
  ['messages.uploadStartFrame', 'session.clientSession', 0],
  ['messages.uploadAbortFrame', 'session.clientSession', 1],
  ['resume.handshake.serverAuthFrame', 'resume.handshake.serverHandshake', 0],
  ['resume.handshake.clientAuthFrame', 'resume.handshake.clientHandshake', 0],
  ['resume.messages.welcomeFrame', 'resume.session.serverSession', 0],
  ['resume.messages.uploadReadyFrame', 'resume.session.serverSession', 1],
  ['resume.messages.uploadDoneFrame', 'resume.session.serverSession', 2],
  ['resume.messages.uploadStartFrame', 'resume.session.clientSession', 0],
  ['resume.messages.byeFrame', 'resume.session.clientSession', 1],
].map(([frame, keys, seq]) => ({
  frame: frame as string,
  key: `${keys}Key`,
  iv: `${keys}Iv`,
  seq: seq as number,
}));

const NOTES = {
  inputs:
    'Every field of every frame is in inputs or computed from them (seeds to keys, the file to its SHA-256); ' +
    "the file is inputs.fileSize bytes of inputs.fileContent. welcomeRegistered is bit 0 of Welcome's flags, " +
    "uploadStartResume bit 0 of UploadStart's, fatal bit 0 of the flags of an Alert or Error. inputs.resume " +
    'holds what the second connection changes; everything else it uses is the same as the first.',
  sequenceNumbers:
    'Sealed-message sequence numbers count per direction and per key: each side counts its own Sealed frames ' +
    'from 0, separately under the handshake keys and under the session keys of each session. The list "sealed" ' +
    'gives every Sealed frame in this file with its key, IV and seq (paths in this file).',
  messages:
    'Session 1: the server seals Welcome (seq 0), UploadReady (1), UploadDone (2), then, for their layouts ' +
    'only, UploadAborted (3), a non-fatal Error (4) and a fatal Error (5); the client seals UploadStart (0) ' +
    'and UploadAbort (1). UploadDone carries inputs.fileSize, stream.plaintextSha256 and inputs.storedName; ' +
    'UploadAbort and UploadAborted carry inputs.uploadId. alertFrame is an Alert frame in the clear with ' +
    'inputs.alert.',
  record0Sha256:
    'SHA-256 of record 0 as sent in its Chunk body: its 262144 ciphertext bytes followed by its 16-byte tag ' +
    '(record0Tag); the record is AES-256-GCM under streamKey with nonce0 and empty AAD.',
  emptyFileRecord:
    'The one record (index 0, last) of an empty file with the same file key, session binding and upload ID ' +
    'as this stream, so under the same streamKey (the keys do not depend on the size) with nonce ' +
    'noncePrefix || 00000000 || 01 (nonce0Last): the 16-byte tag of the empty plaintext.',
  chunkFrames:
    'chunkFrame0Header is the 6-byte header of the Chunk frame carrying record 0 and chunkFrame0Sha256 the ' +
    'SHA-256 of that whole frame (header || record 0, 262166 bytes); chunkFrame1 is the whole Chunk frame ' +
    'carrying record 1 (the last).',
  fileKeyCheck:
    'What the server keeps to recognise the file key of a resumed upload: ' +
    'SHA-256("sft4 file key check" || file key).',
  clientAuthWithInvite:
    'The ClientAuth the same client sends in the first handshake when it offers inputs.inviteToken as its ' +
    'invite (a token shaped like one, not a valid one): TH2 and the signature are unchanged, it is sealed ' +
    'under the client handshake key at seq 0, and th3 is the TH3 that would follow it.',
  resume:
    'A second connection of the same client resuming the same upload (same upload ID, file key, size and ' +
    'name) from record inputs.resume.uploadReadyNextRecord, as after a first connection cut once record 0 ' +
    'was durable: a new handshake with new ephemeral keys, so a new session binding and stream key ' +
    '(streamKeyDiffersFromFirstSession). The server seals Welcome (seq 0), UploadReady (1), UploadDone (2); ' +
    'the client seals UploadStart with the resume flag (0) and Bye (1); record 1 is sealed under the stream key of this ' +
    'session.',
};

/** Runs the fixed sessions and returns every intermediate value as hex. */
export async function computeV4Vectors(): Promise<Record<string, unknown>> {
  const I = V4_VECTOR_INPUTS;
  const first = await runHandshake(I, I.clientInvite, I);
  const { cSession, sSession } = first;
  const withInvite = await runHandshake(I, I.inviteToken, I);

  const uploadId = hexToBytes(I.uploadId);
  const fileKey = hexToBytes(I.fileKey);
  const uploadStartFrame = await cSession.seal({
    type: MessageType.UploadStart,
    uploadId,
    resume: I.uploadStartResume,
    fileKey,
    size: I.fileSize,
    recordSize: I.recordSize,
    name: I.fileName,
  });
  const uploadReadyFrame = await sSession.seal({
    type: MessageType.UploadReady,
    uploadId,
    nextRecord: I.uploadReadyNextRecord,
  });
  const plain = vectorFile(I.fileSize);
  const sealer = new StreamSealer({ fileKey, binding: cSession.binding, uploadId, size: I.fileSize });
  const rec0 = await sealer.seal(0, recordOf(plain, 0));
  const rec1 = await sealer.seal(1, recordOf(plain, 1));
  const chunk0 = encodeFrame(FrameType.Chunk, rec0);
  const sk = await streamKeys(fileKey, cSession.binding, uploadId);
  const digest = await sha256(plain);
  const uploadDone = {
    type: MessageType.UploadDone,
    uploadId,
    size: I.fileSize,
    sha256: digest,
    storedName: I.storedName,
  } as const;
  const uploadDoneFrame = await sSession.seal(uploadDone);
  const uploadAbortFrame = await cSession.seal({ type: MessageType.UploadAbort, uploadId });
  const uploadAbortedFrame = await sSession.seal({ type: MessageType.UploadAborted, uploadId });
  const errorNonFatalFrame = await sSession.seal({ type: MessageType.Error, ...I.errorNonFatal });
  const errorFatalFrame = await sSession.seal({ type: MessageType.Error, ...I.errorFatal });
  const alertFrame = encodeFrame(FrameType.Alert, encodeAlert(I.alert));
  const emptySealer = new StreamSealer({ fileKey, binding: cSession.binding, uploadId, size: 0 });

  const R = I.resume;
  const second = await runHandshake(R, I.clientInvite, R);
  const rUploadStartFrame = await second.cSession.seal({
    type: MessageType.UploadStart,
    uploadId,
    resume: R.uploadStartResume,
    fileKey,
    size: I.fileSize,
    recordSize: I.recordSize,
    name: I.fileName,
  });
  const rUploadReadyFrame = await second.sSession.seal({
    type: MessageType.UploadReady,
    uploadId,
    nextRecord: R.uploadReadyNextRecord,
  });
  const rSealer = new StreamSealer({ fileKey, binding: second.cSession.binding, uploadId, size: I.fileSize });
  const k = R.uploadReadyNextRecord;
  const rRecord = await rSealer.seal(k, recordOf(plain, k));
  const rsk = await streamKeys(fileKey, second.cSession.binding, uploadId);
  const rUploadDoneFrame = await second.sSession.seal(uploadDone);
  const rByeFrame = await second.cSession.seal({ type: MessageType.Bye });

  return {
    description:
      'Protocol v4 known-answer vectors (docs/PROTOCOL.md, Protocol version 4). All byte strings are hex. ' +
      'Private keys are given as their 32-byte seeds (RFC 8410 PKCS #8: 302e020100300506032b65{70|6e}04220420 || seed). ' +
      'Frames are whole (6-byte header included); sealed messages are under the session keys, each ' +
      'direction counting its own sequence numbers from 0 (see notes and sealed).',
    notes: NOTES,
    inputs: I,
    primitives: PRIMITIVES,
    handshake: first.handshake,
    session: first.session,
    messages: {
      welcomeFrame: hex(first.welcomeFrame),
      uploadStartFrame: hex(uploadStartFrame),
      uploadReadyFrame: hex(uploadReadyFrame),
      uploadDoneFrame: hex(uploadDoneFrame),
      uploadAbortFrame: hex(uploadAbortFrame),
      uploadAbortedFrame: hex(uploadAbortedFrame),
      errorNonFatalFrame: hex(errorNonFatalFrame),
      errorFatalFrame: hex(errorFatalFrame),
      alertFrame: hex(alertFrame),
    },
    stream: {
      streamKey: hex(sk.key),
      noncePrefix: hex(sk.prefix),
      nonce0: hex(streamNonce(sk.prefix, 0, false)),
      nonce1Last: hex(streamNonce(sk.prefix, 1, true)),
      record0Sha256: hex(await sha256(rec0)),
      record0Tag: hex(rec0.subarray(rec0.length - 16)),
      record1: hex(rec1),
      emptyFileRecord: hex(await emptySealer.seal(0, new Uint8Array(0))),
      plaintextSha256: hex(digest),
      nonce0Last: hex(streamNonce(sk.prefix, 0, true)),
      chunkFrame0Header: hex(chunk0.subarray(0, FRAME_HEADER_SIZE)),
      chunkFrame0Sha256: hex(await sha256(chunk0)),
      chunkFrame1: hex(encodeFrame(FrameType.Chunk, rec1)),
      fileKeyCheck: hex(await fileKeyCheck(fileKey)),
    },
    clientAuthWithInvite: {
      clientAuthPlaintext: hex(withInvite.clientAuthPlain),
      clientAuthFrame: hex(withInvite.clientAuthFrame),
      th3: hex(withInvite.th3),
    },
    resume: {
      handshake: second.handshake,
      session: second.session,
      messages: {
        welcomeFrame: hex(second.welcomeFrame),
        uploadStartFrame: hex(rUploadStartFrame),
        uploadReadyFrame: hex(rUploadReadyFrame),
        uploadDoneFrame: hex(rUploadDoneFrame),
        byeFrame: hex(rByeFrame),
      },
      stream: {
        streamKey: hex(rsk.key),
        noncePrefix: hex(rsk.prefix),
        nonce1Last: hex(streamNonce(rsk.prefix, k, true)),
        record1: hex(rRecord),
        chunkFrame1: hex(encodeFrame(FrameType.Chunk, rRecord)),
        streamKeyDiffersFromFirstSession: hex(rsk.key) !== hex(sk.key) && hex(rsk.prefix) !== hex(sk.prefix),
      },
    },
    sealed: SEALED,
  };
}

/** Published vectors of the primitives themselves (RFC 7748 6.1, RFC 8032 7.1 test 1, RFC 5869 A.1). */
export const PRIMITIVES = {
  x25519: {
    alicePrivate: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    alicePublic: '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    bobPrivate: '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
    bobPublic: 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    shared: '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
  },
  ed25519: {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  hkdf: {
    ikm: '0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b',
    salt: '000102030405060708090a0b0c',
    info: 'f0f1f2f3f4f5f6f7f8f9',
    length: 42,
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
};
