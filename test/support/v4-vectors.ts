/**
 * Known-answer vectors of protocol v4 (docs/protocol-v4-vectors.json): a whole session with
 * fixed keys, run through lib/v4 and recorded byte for byte. `npm run v4-vectors` rewrites
 * the file; lib/v4/vectors.test.ts recomputes it and compares. The inputs are fixed seeds;
 * X25519, Ed25519, HKDF and AES-GCM are deterministic, so every output is too.
 */
import { bytesToHex, hexToBytes } from '../../lib/crypto/encoding';
import {
  CLIENT_TO_SERVER_FRAMES,
  FrameType,
  MessageType,
  RECORD_SIZE,
  SERVER_TO_CLIENT_FRAMES,
} from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame, encodePreamble, type Frame } from '../../lib/protocol/v4/frames';
import {
  ClientHandshake,
  ephemeralKeyFromSeed,
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
  /** File plaintext: byte i is i mod 251; one full record and a last record of 100 bytes. */
  fileSize: RECORD_SIZE + 100,
  storedName: 'report.pdf',
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

/** Runs the fixed session and returns every intermediate value as hex. */
export async function computeV4Vectors(): Promise<Record<string, unknown>> {
  const I = V4_VECTOR_INPUTS;
  const cEph = await ephemeralKeyFromSeed(hexToBytes(I.clientEphemeralSeed));
  const sEph = await ephemeralKeyFromSeed(hexToBytes(I.serverEphemeralSeed));
  const cId = await signingKeyFromSeed(hexToBytes(I.clientIdentitySeed));
  const sId = await signingKeyFromSeed(hexToBytes(I.serverIdentitySeed));

  const client = new ClientHandshake({
    identity: cId,
    name: I.clientName,
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
    registered: true,
    maxFileSize: 64 * 1024 ** 3,
  });
  const [welcome] = frames(toClient, welcomeFrame);
  const { session: cSession } = (await client.onFrame(welcome!)).done!;

  // The schedule's intermediate values, recomputed from the transcript as the spec writes it.
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

  const uploadId = hexToBytes(I.uploadId);
  const fileKey = hexToBytes(I.fileKey);
  const uploadStartFrame = await cSession.seal({
    type: MessageType.UploadStart,
    uploadId,
    resume: false,
    fileKey,
    size: I.fileSize,
    recordSize: RECORD_SIZE,
    name: I.fileName,
  });
  const uploadReadyFrame = await sSession.seal({ type: MessageType.UploadReady, uploadId, nextRecord: 0 });
  const plain = vectorFile(I.fileSize);
  const sealer = new StreamSealer({ fileKey, binding: cSession.binding, uploadId, size: I.fileSize });
  const rec0 = await sealer.seal(0, plain.subarray(0, RECORD_SIZE));
  const rec1 = await sealer.seal(1, plain.subarray(RECORD_SIZE));
  const sk = await streamKeys(fileKey, cSession.binding, uploadId);
  const digest = await sha256(plain);
  const uploadDoneFrame = await sSession.seal({
    type: MessageType.UploadDone,
    uploadId,
    size: I.fileSize,
    sha256: digest,
    storedName: I.storedName,
  });
  const emptySealer = new StreamSealer({ fileKey, binding: cSession.binding, uploadId, size: 0 });

  return {
    description:
      'Protocol v4 known-answer vectors (docs/PROTOCOL.md, Protocol version 4). All byte strings are hex. ' +
      'Private keys are given as their 32-byte seeds (RFC 8410 PKCS #8: 302e020100300506032b65{70|6e}04220420 || seed). ' +
      'Frames are whole (6-byte header included); sealed messages are under the session keys in order from seq 0.',
    inputs: I,
    primitives: PRIMITIVES,
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
    messages: {
      welcomeFrame: hex(welcomeFrame),
      uploadStartFrame: hex(uploadStartFrame),
      uploadReadyFrame: hex(uploadReadyFrame),
      uploadDoneFrame: hex(uploadDoneFrame),
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
    },
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
