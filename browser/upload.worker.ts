/// <reference lib="webworker" />
/**
 * The upload worker: owns the WebSocket to the bridge and the lib/client session, so
 * reading, encryption and checksums of a file never run on the page's main thread. Messages
 * are defined in upload-protocol.ts. One connection; one upload at a time (the page queues).
 * One registration, by the protocol spoken (`?protocol=3|4|auto`): under v4 (v4-worker.ts)
 * ClientAuth with the name registers this browser's v4 key, which is then the identity; a v3
 * registration (RSA key, me.info) happens only when the page speaks v3. A v3 identity (registered
 * or imported) keeps v3's 1027 and sends files by v4 on a connection of its own when it can.
 */
import { ClientError } from '../lib/client/errors';
import { establishIdentity } from '../lib/client/establish';
import { ClientSession } from '../lib/client/session';
import type { V4ClientSession } from '../lib/client/v4-session';
import {
  createAesCbcEncryptor,
  generateRsaKeyPair,
  importPrivateKeyPkcs8,
  unwrapAesKey,
} from '../lib/crypto';
import { CloseCode } from '../lib/protocol';
import { bridgeRefusal, connectProblem, inviteRefusal, needsV4, notV4Answer } from './connect-problem';
import { BrowserError } from './errors';
import { PageTransport, transportFailure } from './page-transport';
import type { ConnectionProblem, FromWorker, ServerKeyChange, ToWorker } from './upload-protocol';
import { uploadV3 } from './v3-upload';
import { type ProtocolChoice, v3IdentityWantsV4, wantsV4 } from './v4-rules';
import { applyLinkFingerprint, openV4, uploadV4 } from './v4-worker';
import { WorkerConnection } from './worker-connection';

declare const self: DedicatedWorkerGlobalScope;

/** A connection closed while idle after living this long is re-opened without telling the person. */
const ROUTINE_CLOSE_AFTER_MS = 5_000;
/**
 * Ciphertext bytes per 1028 packet (one WebSocket message). Larger than the protocol's
 * customary 64 KiB: each WebSocket message costs Chromium an IPC hop, so fewer, larger
 * messages move more bytes per CPU second; the bridge and server accept up to 16 MiB.
 */
const PACKET_SIZE = 1024 * 1024;

const subtle = crypto.subtle;

/** Who the page is: a v3 identity has its RSA key; a v4 identity is this browser's v4 key. */
interface Identity {
  name: string;
  clientId: Uint8Array;
  privateKey?: CryptoKey;
}

type Connection =
  | { protocol: 3; transport: PageTransport; session: ClientSession; aesKey: Uint8Array; close(): void }
  | { protocol: 4; transport: PageTransport; session: V4ClientSession; close(): void };

function connection(transport: PageTransport, session: ClientSession, aesKey: Uint8Array): Connection {
  return {
    protocol: 3,
    transport,
    session,
    aesKey,
    close: () => {
      session.close();
      transport.close();
    },
  };
}

function v4Connection(transport: PageTransport, session: V4ClientSession): Connection {
  return {
    protocol: 4,
    transport,
    session,
    close: () => {
      void session.close();
      transport.close();
    },
  };
}

/**
 * Where to (re)connect: the bridge, as whom, the invite offered at each handshake, the
 * protocol, and the invite link's server fingerprint (checked before a v4 connection).
 */
interface Target {
  url: string;
  identity: Identity;
  invite?: string;
  protocol: ProtocolChoice;
  link?: string;
}

/** Bridges whose server answered as a version 3 server (auto then speaks v3 there for this page's life). */
const v3Only = new Set<string>();

const state = new WorkerConnection<Connection, Target>();

function post(msg: FromWorker): void {
  self.postMessage(msg);
}

function problem(
  p: ConnectionProblem,
  message: string,
  serverKey?: ServerKeyChange,
  opts: { retry?: true } = {},
): void {
  post({ type: 'problem', problem: p, message, ...(serverKey ? { serverKey } : {}), ...opts });
}

/**
 * Opens the WebSocket, held to the answer deadline (a server that keeps the page waiting has
 * it closed: page-transport.ts); watches for the peer closing it while idle.
 */
async function openSocket(url: string, ticket: number, invite: string | undefined): Promise<PageTransport> {
  const transport = await PageTransport.connect(url, { invite });
  if (!state.isCurrent(ticket)) {
    transport.close();
    throw new Error('superseded');
  }
  const openedAt = Date.now();
  void transport.closed.then(() => {
    // Closed under an idle session (an active upload reports its own failure).
    const current = state.current;
    if (current?.transport !== transport || !state.closedWhileIdle(current)) return;
    const refusal = inviteRefusal(transport.closeInfo);
    if (refusal) {
      problem('invite', refusal);
      return;
    }
    // Server and bridge drop idle connections (60 s / 5 min by default): reconnect quietly,
    // unless this connection died young, which points at a real problem (the page backs off).
    const routine =
      transport.closeInfo?.code === CloseCode.IdleTimeout || Date.now() - openedAt > ROUTINE_CLOSE_AFTER_MS;
    const target = state.target;
    if (routine && target) {
      void reconnect(target, { quiet: true });
      return;
    }
    problem('lost', transport.closeInfo?.reason || 'The connection to the bridge closed.');
  });
  return transport;
}

/** A v3 session on a fresh connection. */
async function open(
  url: string,
  ticket: number,
  invite: string | undefined,
): Promise<{ transport: PageTransport; session: ClientSession }> {
  const transport = await openSocket(url, ticket, invite);
  const session = new ClientSession({
    transport,
    encryptorFactory: (key) => createAesCbcEncryptor(subtle, key),
    packetSize: PACKET_SIZE,
  });
  return { transport, session };
}

/**
 * A v4 connection, or 'v3' when the server answered as a version 3 server and `protocol` is
 * auto (remembered for this bridge). Failures carry the transport for connectProblem.
 */
async function openV4Connection(
  target: Omit<Target, 'identity'>,
  ticket: number,
  name: string,
): Promise<Connection | 'v3'> {
  const { url, invite, protocol, link } = target;
  let transport: PageTransport | undefined;
  try {
    // A link fingerprint that disagrees with the pin stops here, before any socket.
    await applyLinkFingerprint(url, link);
    transport = await openSocket(url, ticket, invite);
    return v4Connection(transport, await openV4(transport, url, name, link));
  } catch (thrown) {
    // The page closed it itself (the server stopped answering, the bridge broke the
    // protocol): said as such, and never taken for a version 3 server.
    const e = transportFailure(thrown, transport);
    if (e instanceof ClientError && e.code === 'CLIENT_ERR_NOT_V4') {
      // Through the bridge a close before any byte may only mean the file server is down.
      const closed = transport?.closeInfo;
      if (closed?.code === CloseCode.TargetUnreachable) {
        const down = new BrowserError('BROWSER_ERR_BRIDGE_UNREACHABLE', closed.reason || e.message);
        throw Object.assign(new Error('v4'), { cause: down, transport });
      }
      // The bridge refused the connection (a forged invite's 4012 ...): that is what to say,
      // whatever the protocol. (Returned as 'v3', the transport and its close code were lost,
      // and the page said "unreachable" for a forged link.)
      if (protocol === 'auto' && !bridgeRefusal(closed)) {
        // Remembered only when the server said it (a v3 answer, which the bridge passes on as
        // its 4007); a bare close is tried again next time.
        if (notV4Answer(e, closed) === 'answered') v3Only.add(url);
        return 'v3';
      }
    }
    throw Object.assign(new Error('v4'), { cause: e, transport });
  }
}

/** Unwraps openV4Connection's failure into the error and the transport it happened on. */
function failure(e: unknown, opened: PageTransport | undefined): [unknown, PageTransport | undefined] {
  if (e instanceof Error && e.message === 'v4' && 'transport' in e)
    return [e.cause, (e as { transport?: PageTransport }).transport];
  return [e, opened];
}

function reportFailure(e: unknown, opened: PageTransport | undefined): void {
  const [err, t] = failure(e, opened);
  const { p, message, serverKey, retry } = connectProblem(transportFailure(err, t), t);
  problem(p, message, serverKey, retry ? { retry } : {});
}

/** Registers `name` by the protocol the page speaks: v4 (ClientAuth registers the v4 key) or v3. */
async function register(target: Omit<Target, 'identity'>, name: string): Promise<void> {
  const ticket = state.restart();
  post({ type: 'connecting' });
  let opened: PageTransport | undefined;
  try {
    if (wantsV4(target.protocol, v3Only.has(target.url))) {
      const v4 = await openV4Connection(target, ticket, name);
      if (v4 !== 'v3' && v4.protocol === 4) {
        const clientId = v4.session.clientId;
        if (!state.adopt(ticket, v4, { ...target, identity: { name, clientId } })) return;
        post({ type: 'connected', name, clientId, via: 'register', protocol: 4 });
        return;
      }
      // Only a server that said it speaks v3 gets a v3 registration (a bare close is not that).
      if (!v3Only.has(target.url))
        throw new ClientError('CLIENT_ERR_NOT_V4', 'The server closed the connection without answering.');
    }
    const { url, invite } = target;
    const { transport, session } = await open(url, ticket, invite);
    opened = transport;
    // Key first, then 1025/1026 (lib/client's shared flow). Extractable once, only to offer
    // me.info for download; what is kept is a non-extractable re-import of the same key.
    const { clientId, aesKey, keyPair } = await establishIdentity(session, {
      name,
      createKeyPair: async () => {
        const pair = await generateRsaKeyPair(subtle, { extractable: true });
        const pkcs8 = pair.privateKeyPkcs8!;
        const privateKey = await importPrivateKeyPkcs8(subtle, pkcs8, { extractable: false });
        return {
          publicKeySpki: pair.publicKeySpki,
          privateKey,
          pkcs8,
          unwrap: (wrapped: Uint8Array) => unwrapAesKey(subtle, privateKey, wrapped),
        };
      },
    });
    const { privateKey, pkcs8 } = keyPair!;
    const conn = connection(transport, session, aesKey);
    if (!state.adopt(ticket, conn, { ...target, identity: { name, clientId, privateKey } })) return;
    post({
      type: 'connected',
      name,
      clientId,
      via: 'register',
      privateKey,
      privateKeyPkcs8: pkcs8,
      protocol: 3,
    });
  } catch (e) {
    if (!state.isCurrent(ticket)) return;
    state.restart();
    reportFailure(e, opened);
  }
}

function reconnect(target: Target, opts: { quiet?: boolean } = {}): Promise<void> {
  return state.trackReconnect(reconnectNow(target, opts.quiet ?? false));
}

/** A v4 identity reconnects by v4 only: a v3-only server (or `?protocol=3`) is a problem, never a new v3 identity. */
async function reconnectV4Identity(target: Target, ticket: number): Promise<void> {
  const { identity } = target;
  if (target.protocol === 3) {
    state.restart();
    problem('needs-v4', needsV4('forced'));
    return;
  }
  try {
    const v4 = await openV4Connection({ ...target, protocol: 4 }, ticket, identity.name);
    if (v4 === 'v3' || !state.adopt(ticket, v4)) return;
    // The key is the identity: the server finds it (or, after losing it, registers it again).
    const clientId = v4.protocol === 4 ? v4.session.clientId : identity.clientId;
    post({ type: 'connected', name: identity.name, clientId, via: 'reconnect', protocol: 4 });
  } catch (e) {
    if (!state.isCurrent(ticket)) return;
    state.restart();
    const [err, t] = failure(e, undefined);
    const how = err instanceof ClientError ? notV4Answer(err, t?.closeInfo) : undefined;
    // A server that answered v3 is said to be one; one that only hung up is said to be one
    // most likely, and tried again on its own (it may have been restarting).
    if (how === 'answered') problem('needs-v4', needsV4('server'));
    else if (how === 'closed') problem('needs-v4', needsV4('closed'), undefined, { retry: true });
    else reportFailure(e, undefined);
  }
}

async function reconnectNow(target: Target, quiet: boolean): Promise<void> {
  const { url, identity, invite } = target;
  const ticket = state.restart(target);
  if (!quiet) post({ type: 'connecting' });
  const privateKey = identity.privateKey;
  if (!privateKey) return reconnectV4Identity(target, ticket);
  let opened: PageTransport | undefined;
  try {
    // A v3 identity: files by v4 (the key registered as a client of its own) when the server
    // has it, except under an invite (exactly as before: its registration took the slot).
    if (v3IdentityWantsV4(target.protocol, v3Only.has(url), invite !== undefined)) {
      const v4 = await openV4Connection(target, ticket, identity.name);
      if (v4 !== 'v3') {
        if (!state.adopt(ticket, v4)) return;
        post({
          type: 'connected',
          name: identity.name,
          clientId: identity.clientId,
          via: 'reconnect',
          protocol: 4,
        });
        return;
      }
    }
    const { transport, session } = await open(url, ticket, invite);
    opened = transport;
    // 1027 -> 1605; a 1606 is reported (CLIENT_ERR_RECONNECT_REJECTED): the person decides
    // whether to register anew.
    const { aesKey } = await establishIdentity(session, {
      name: identity.name,
      existing: { clientId: identity.clientId },
      unwrap: (wrapped) => unwrapAesKey(subtle, privateKey, wrapped),
      createKeyPair: () => Promise.reject(new Error('not used: onRejected is "fail"')),
      onRejected: 'fail',
    });
    if (!state.adopt(ticket, connection(transport, session, aesKey))) return;
    post({
      type: 'connected',
      name: identity.name,
      clientId: identity.clientId,
      via: 'reconnect',
      protocol: 3,
    });
  } catch (e) {
    if (!state.isCurrent(ticket)) return;
    state.restart();
    reportFailure(e, opened);
  }
}

async function upload(id: string, file: File): Promise<void> {
  await state.ready();
  const started = state.beginUpload(id);
  if (!started) {
    post({
      type: 'done',
      id,
      outcome: 'failed',
      attempts: 0,
      message: 'Not connected; the file was not sent.',
      code: 'CLIENT_ERR_SESSION_CLOSED',
    });
    return;
  }
  const { conn: c, signal } = started;
  if (c.protocol === 4) {
    const url = state.target?.url ?? '';
    const { done, usable, told } = await uploadV4(c.session, c.transport, url, id, file, signal, post);
    state.endUpload();
    if (!told) post(done);
    const target = state.target;
    if (!usable && target && state.forget(c)) {
      c.close();
      await reconnect(target);
    }
    return;
  }
  const done = await uploadV3(c.session, c.transport, c.aesKey, id, file, signal, post);
  state.endUpload();
  post(done);
  // A cancelled or broken sequence leaves the connection unusable: open a fresh one.
  const target = state.target;
  if (done.outcome !== 'verified' && c.session.closed && target && state.forget(c)) await reconnect(target);
}

let uploads: Promise<void> = Promise.resolve();

self.addEventListener('message', (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'register':
      void register(
        { url: msg.url, invite: msg.invite, protocol: msg.protocol ?? 'auto', link: msg.serverFingerprint },
        msg.name,
      );
      break;
    case 'reconnect':
      void reconnect({
        url: msg.url,
        identity: { name: msg.name, clientId: msg.clientId, privateKey: msg.privateKey },
        invite: msg.invite,
        protocol: msg.protocol ?? 'auto',
        link: msg.serverFingerprint,
      });
      break;
    case 'upload':
      // One at a time: a v4 cancel is said before its UploadAbort exchange ends.
      uploads = uploads.then(() => upload(msg.id, msg.file)).catch(() => {});
      break;
    case 'cancel':
      state.cancel(msg.id);
      break;
    case 'disconnect':
      state.disconnect();
      break;
  }
});
