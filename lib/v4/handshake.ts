/**
 * The v4 handshake (docs/PROTOCOL.md, "Handshake") as two state machines that never touch
 * a socket: each takes the frames its side received, in order, and says what to send.
 *
 *   client: start() -> preamble + ClientHello
 *           ServerHello -> (handshake keys)
 *           Sealed(ServerAuth) -> verify signature and pin -> send Sealed(ClientAuth)
 *           Sealed(Welcome) -> done (Session)
 *   server: ClientHello -> send ServerHello + Sealed(ServerAuth)
 *           Sealed(ClientAuth) -> verify signature -> done (Session; the caller sends Welcome)
 */
import { concatBytes } from '../protocol/bytes';
import { FrameType, MessageType, SUITE_1, V4ErrorCode } from '../protocol/v4/constants';
import { encodeFrame, encodePreamble, type Frame } from '../protocol/v4/frames';
import {
  type ClientAuth,
  decodeAlert,
  decodeHello,
  decodeMessage,
  encodeHello,
  encodeMessage,
  type Welcome,
} from '../protocol/v4/messages';
import { V4Error } from './errors';
import { handshakeKeys, sessionKeys, sharedSecret, Transcript } from './key-schedule';
import { generateEphemeralKey, type KeyPairWithRaw, sign, verify } from './keys';
import { RecordOpener, RecordSealer } from './record-layer';
import { Session, throwIfPeerError } from './session';

const ascii = new TextEncoder();
export const SERVER_SIGNATURE_CONTEXT = ascii.encode('SFT v4 server signature\u0000');
export const CLIENT_SIGNATURE_CONTEXT = ascii.encode('SFT v4 client signature\u0000');

/** The peer's Alert as the error it ends the connection with (V4_ERR_PEER, in the clear). */
export function peerAlert(frame: Frame): never {
  const a = decodeAlert(frame.body);
  throw new V4Error('V4_ERR_PEER', a.reason || `Alert ${a.code}`, { wireCode: a.code, inTheClear: true });
}

function unexpected(frame: Frame, state: string): V4Error {
  return new V4Error('V4_ERR_STATE', `Frame type ${frame.type} is not allowed in state ${state}.`);
}

async function openHandshake(opener: RecordOpener, body: Uint8Array): Promise<Uint8Array> {
  try {
    return await opener.open(body);
  } catch (e) {
    throw new V4Error('V4_ERR_HANDSHAKE', 'A handshake message did not verify.', { cause: e });
  }
}

export interface ClientHandshakeOptions {
  /** The client's long-term Ed25519 key. */
  identity: KeyPairWithRaw;
  name: string;
  invite?: string;
  /** Judges the server's key (pinning); throws V4_ERR_PINNED_KEY_CHANGED to refuse. */
  checkServerKey(serverKey: Uint8Array): Promise<void> | void;
  /** Fixed ephemeral key (known-answer vectors only). */
  ephemeral?: KeyPairWithRaw;
}

export interface ClientResult {
  session: Session;
  welcome: Welcome;
  serverKey: Uint8Array;
}

type ClientState = 'start' | 'hello' | 'server-auth' | 'welcome' | 'done';

export class ClientHandshake {
  readonly #opts: ClientHandshakeOptions;
  readonly #transcript = new Transcript();
  #state: ClientState = 'start';
  #ephemeral: KeyPairWithRaw | null = null;
  #ss: Uint8Array | null = null;
  #opener: RecordOpener | null = null;
  #sealer: RecordSealer | null = null;
  #session: Session | null = null;
  #serverKey: Uint8Array | null = null;

  constructor(opts: ClientHandshakeOptions) {
    this.#opts = opts;
  }

  /** The first bytes of the connection: the preamble and the ClientHello frame. */
  async start(): Promise<Uint8Array> {
    if (this.#state !== 'start') throw new V4Error('V4_ERR_STATE', 'The handshake has started.');
    this.#ephemeral = this.#opts.ephemeral ?? (await generateEphemeralKey());
    const preamble = encodePreamble();
    const hello = encodeFrame(
      FrameType.ClientHello,
      encodeHello({ suite: SUITE_1, ephemeral: this.#ephemeral.publicRaw }),
    );
    this.#transcript.add(preamble);
    this.#transcript.add(hello);
    this.#state = 'hello';
    return concatBytes([preamble, hello]);
  }

  /** Feeds one received frame; returns the bytes to send, and the result once established. */
  async onFrame(frame: Frame): Promise<{ send?: Uint8Array; done?: ClientResult }> {
    if (frame.type === FrameType.Alert) peerAlert(frame);
    switch (this.#state) {
      case 'hello':
        if (frame.type !== FrameType.ServerHello) throw unexpected(frame, this.#state);
        await this.#onServerHello(frame);
        return {};
      case 'server-auth':
        if (frame.type !== FrameType.Sealed) throw unexpected(frame, this.#state);
        return { send: await this.#onServerAuth(frame.body) };
      case 'welcome': {
        if (frame.type !== FrameType.Sealed) throw unexpected(frame, this.#state);
        const m = await this.#session!.open(frame.body);
        throwIfPeerError(m);
        if (m.type !== MessageType.Welcome) throw new V4Error('V4_ERR_STATE', 'Expected Welcome.');
        this.#state = 'done';
        return { done: { session: this.#session!, welcome: m, serverKey: this.#serverKey! } };
      }
      default:
        throw unexpected(frame, this.#state);
    }
  }

  async #onServerHello(frame: Frame): Promise<void> {
    const hello = decodeHello(frame.body);
    if (hello.suite !== SUITE_1)
      throw new V4Error('V4_ERR_HANDSHAKE', `The server chose suite ${hello.suite}.`, {
        wireCode: V4ErrorCode.Unsupported,
      });
    this.#transcript.add(encodeFrame(frame.type, frame.body));
    this.#ss = await sharedSecret(this.#ephemeral!.privateKey, hello.ephemeral);
    const keys = await handshakeKeys(this.#ss, await this.#transcript.hash());
    this.#opener = new RecordOpener(keys.server);
    this.#sealer = new RecordSealer(keys.client);
    this.#state = 'server-auth';
  }

  async #onServerAuth(body: Uint8Array): Promise<Uint8Array> {
    const plain = await openHandshake(this.#opener!, body);
    const m = decodeMessage(plain);
    if (m.type !== MessageType.ServerAuth) throw new V4Error('V4_ERR_STATE', 'Expected ServerAuth.');
    const th1 = await this.#transcript.hash();
    const signed = concatBytes([SERVER_SIGNATURE_CONTEXT, th1, m.serverKey]);
    if (!(await verify(m.serverKey, m.signature, signed)))
      throw new V4Error('V4_ERR_HANDSHAKE', "The server's signature does not verify.");
    await this.#opts.checkServerKey(m.serverKey);
    this.#serverKey = m.serverKey;
    this.#transcript.add(plain);

    const th2 = await this.#transcript.hash();
    const { identity } = this.#opts;
    const auth = encodeMessage({
      type: MessageType.ClientAuth,
      clientKey: identity.publicRaw,
      signature: await sign(
        identity.privateKey,
        concatBytes([CLIENT_SIGNATURE_CONTEXT, th2, identity.publicRaw]),
      ),
      name: this.#opts.name,
      invite: this.#opts.invite ?? '',
    });
    const frame = await this.#sealer!.seal(auth);
    this.#transcript.add(auth);
    this.#session = new Session(await sessionKeys(this.#ss!, await this.#transcript.hash()), 'client');
    this.#state = 'welcome';
    return frame;
  }
}

export interface ServerHandshakeOptions {
  /** The server's long-term Ed25519 key. */
  identity: KeyPairWithRaw;
  /** Fixed ephemeral key (known-answer vectors only). */
  ephemeral?: KeyPairWithRaw;
}

export interface ServerResult {
  session: Session;
  /** The verified ClientAuth: its key is the client's proven identity. */
  clientAuth: ClientAuth;
}

type ServerState = 'hello' | 'client-auth' | 'done';

export class ServerHandshake {
  readonly #opts: ServerHandshakeOptions;
  readonly #transcript = new Transcript();
  #state: ServerState = 'hello';
  #ss: Uint8Array | null = null;
  #opener: RecordOpener | null = null;

  constructor(opts: ServerHandshakeOptions) {
    this.#opts = opts;
    // The frame decoder consumed the preamble; it is part of the transcript all the same.
    this.#transcript.add(encodePreamble());
  }

  async onFrame(frame: Frame): Promise<{ send?: Uint8Array; done?: ServerResult }> {
    if (frame.type === FrameType.Alert) peerAlert(frame);
    if (this.#state === 'hello' && frame.type === FrameType.ClientHello)
      return { send: await this.#onHello(frame) };
    if (this.#state === 'client-auth' && frame.type === FrameType.Sealed)
      return { done: await this.#onAuth(frame.body) };
    throw unexpected(frame, this.#state);
  }

  async #onHello(frame: Frame): Promise<Uint8Array> {
    const hello = decodeHello(frame.body);
    if (hello.suite !== SUITE_1)
      throw new V4Error('V4_ERR_HANDSHAKE', `Suite ${hello.suite} is not supported.`, {
        wireCode: V4ErrorCode.Unsupported,
      });
    this.#transcript.add(encodeFrame(frame.type, frame.body));
    const ephemeral = this.#opts.ephemeral ?? (await generateEphemeralKey());
    const serverHello = encodeFrame(
      FrameType.ServerHello,
      encodeHello({ suite: SUITE_1, ephemeral: ephemeral.publicRaw }),
    );
    this.#transcript.add(serverHello);
    this.#ss = await sharedSecret(ephemeral.privateKey, hello.ephemeral);
    const th1 = await this.#transcript.hash();
    const keys = await handshakeKeys(this.#ss, th1);
    this.#opener = new RecordOpener(keys.client);
    const { identity } = this.#opts;
    const auth = encodeMessage({
      type: MessageType.ServerAuth,
      serverKey: identity.publicRaw,
      signature: await sign(
        identity.privateKey,
        concatBytes([SERVER_SIGNATURE_CONTEXT, th1, identity.publicRaw]),
      ),
    });
    this.#transcript.add(auth);
    const sealed = await new RecordSealer(keys.server).seal(auth);
    this.#state = 'client-auth';
    return concatBytes([serverHello, sealed]);
  }

  async #onAuth(body: Uint8Array): Promise<ServerResult> {
    const plain = await openHandshake(this.#opener!, body);
    const m = decodeMessage(plain);
    if (m.type !== MessageType.ClientAuth) throw new V4Error('V4_ERR_STATE', 'Expected ClientAuth.');
    const th2 = await this.#transcript.hash();
    let ok = false;
    try {
      ok = await verify(m.clientKey, m.signature, concatBytes([CLIENT_SIGNATURE_CONTEXT, th2, m.clientKey]));
    } catch (e) {
      throw new V4Error('V4_ERR_HANDSHAKE', "The client's key cannot be used.", { cause: e });
    }
    if (!ok) throw new V4Error('V4_ERR_HANDSHAKE', "The client's signature does not verify.");
    this.#transcript.add(plain);
    const session = new Session(await sessionKeys(this.#ss!, await this.#transcript.hash()), 'server');
    this.#state = 'done';
    return { session, clientAuth: m };
  }
}
