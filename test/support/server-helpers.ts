/**
 * Test helpers for the file server: a raw protocol client built from lib/protocol and
 * node:crypto (no lib/client), RSA/AES helpers, and server start-up in-process or as a
 * spawned process. 127.0.0.1 and ephemeral ports only.
 */
import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, generateKeyPairSync, type KeyObject, privateDecrypt } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ciphertextSize,
  DEFAULT_MAX_REQUEST_PAYLOAD,
  decodeResponse,
  EMPTY_CLIENT_ID,
  encodeRequest,
  encodeRequestHeader,
  encodeSendFilePrefix,
  MAX_FILE_SIZE,
  NAME_FIELD_SIZE,
  PROTOCOL_VERSION,
  RequestCode,
  type Response,
  ResponseCode,
  ResponseFrameDecoder,
  ZERO_IV,
} from '../../lib/protocol';
import { LOOPBACK_CIDRS } from '../../platform/address-match';
import { createMemoryLogger } from '../../platform/log';
import {
  DEFAULT_LOG_RATE,
  DEFAULT_LOGIN_GRACE_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_PER_SOURCE,
  DEFAULT_MAX_STARTUPS,
  DEFAULT_MAX_STARTUPS_PER_SOURCE,
  DEFAULT_MIN_UPLOAD_RATE,
  DEFAULT_PUBLIC_URL,
  DEFAULT_UPLOAD_RATE_GRACE_MS,
  HARDENING_DEFAULTS,
  type ServerConfig,
} from '../../server/config';
import { createFileServer, type FileServer } from '../../server/server';
import { type Listening, ROOT, spawnPart } from '../support/processes';

export const REPO_ROOT = ROOT;

export function tempDir(prefix = 'sft-server-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** A raw protocol connection: write frames, read decoded responses in order. */
export class RawClient {
  readonly #decoder = new ResponseFrameDecoder();
  readonly #responses: Response[] = [];
  readonly #waiters: Array<(r: Response | null) => void> = [];
  #closed = false;
  readonly closedPromise: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      for (const f of this.#decoder.push(chunk)) {
        const r = decodeResponse(f.header, f.payload);
        const w = this.#waiters.shift();
        if (w) w(r);
        else this.#responses.push(r);
      }
    });
    socket.on('error', () => {});
    this.closedPromise = new Promise((resolveClosed) =>
      socket.on('close', () => {
        this.#closed = true;
        for (const w of this.#waiters.splice(0)) w(null);
        resolveClosed();
      }),
    );
  }

  /** `localAddress` picks the source address (127.0.0.2 ...), default the system's choice. */
  static connect(port: number, localAddress?: string): Promise<RawClient> {
    return new Promise((res, rej) => {
      const s = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) }, () => {
        s.off('error', rej);
        res(new RawClient(s));
      });
      s.once('error', rej);
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Writes bytes; resolves once the socket can take more. */
  async send(...parts: Uint8Array[]): Promise<void> {
    let ok = true;
    for (const p of parts) ok = this.socket.write(p);
    if (!ok) {
      await new Promise<void>((r) => {
        const done = () => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          r();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  /** Next response, or null when the connection closed first. */
  next(timeoutMs = 20_000): Promise<Response | null> {
    const ready = this.#responses.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((res, rej) => {
      const timer = setTimeout(() => rej(new Error('no response within the time limit')), timeoutMs);
      this.#waiters.push((r) => {
        clearTimeout(timer);
        res(r);
      });
    });
  }

  /** Sends one request and returns its response. */
  async request(frame: Uint8Array): Promise<Response | null> {
    await this.send(frame);
    return this.next();
  }

  /** Responses that arrived and were not read yet. */
  get unread(): number {
    return this.#responses.length;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface RsaKeys {
  spki: Uint8Array;
  privateKey: KeyObject;
}

/** RSA-1024 with e=3: a 160-byte SubjectPublicKeyInfo like the reference client's. */
export function makeRsaKeys(): RsaKeys {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  if (spki.length !== 160) throw new Error(`SPKI is ${spki.length} bytes`);
  return { spki, privateKey };
}

export function unwrapKey(keys: RsaKeys, encrypted: Uint8Array): Buffer {
  return privateDecrypt(
    { key: keys.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' },
    encrypted,
  );
}

/** A 255-byte name field without validation (for hostile names). */
export function rawNameField(bytes: Uint8Array | string): Uint8Array {
  const field = new Uint8Array(NAME_FIELD_SIZE);
  field.set(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  return field;
}

/** A whole request frame from raw parts (any code, any payload). */
export function rawFrame(
  clientId: Uint8Array,
  code: number,
  payload: Uint8Array,
  version = PROTOCOL_VERSION,
): Uint8Array {
  const out = new Uint8Array(23 + payload.length);
  encodeRequestHeader({ clientId, version, code, payloadSize: payload.length }, out);
  out.set(payload, 23);
  return out;
}

export interface Identity {
  name: string;
  clientId: Uint8Array;
  keys: RsaKeys;
  aesKey: Buffer;
}

/** 1025 then 1026 on `c`; returns the identity with the unwrapped AES key. */
export async function registerAndExchange(
  c: RawClient,
  name: string,
  keys = makeRsaKeys(),
): Promise<Identity> {
  const r1 = await c.request(encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }));
  if (r1?.code !== ResponseCode.Registered) throw new Error(`register: ${r1?.code}`);
  const r2 = await c.request(
    encodeRequest({ code: RequestCode.SendPublicKey, clientId: r1.clientId, name, publicKey: keys.spki }),
  );
  if (r2?.code !== ResponseCode.PublicKeyAccepted) throw new Error(`public key: ${r2?.code}`);
  return { name, clientId: r1.clientId, keys, aesKey: unwrapKey(keys, r2.encryptedKey) };
}

export interface SendOptions {
  fileName: string;
  /** Plaintext: bytes, or a file path streamed from disk. */
  data: Uint8Array | { path: string; size: number };
  packetSize?: number;
  /** Number of the first packet (1 per the spec, 0 for some clients). */
  firstNumber?: number;
  /** Zero-pad the last packet to packetSize, like the C++ reference client. */
  padLast?: boolean;
  /** Override fields of given packets (index from 0) to build broken sequences. */
  tamper?: (
    index: number,
    fields: PacketHeaderFields,
    content: Buffer,
  ) => { fields: PacketHeaderFields; content: Buffer };
}

export interface PacketHeaderFields {
  contentSize: number;
  origSize: number;
  packetNumber: number;
  totalPackets: number;
  fileName: string;
}

/** Encrypts and sends a file as 1028 packets (streaming; no whole file in memory for paths). */
export async function sendFile(c: RawClient, id: Identity, opts: SendOptions): Promise<{ packets: number }> {
  const packetSize = opts.packetSize ?? 64 * 1024;
  const origSize = opts.data instanceof Uint8Array ? opts.data.length : opts.data.size;
  const contentSize = ciphertextSize(origSize);
  const totalPackets = Math.ceil(contentSize / packetSize);
  const cipher = createCipheriv('aes-256-cbc', id.aesKey, ZERO_IV);
  const pending: Buffer[] = [];
  let pendingLen = 0;
  let index = 0;
  const emit = async (content: Buffer) => {
    let fields: PacketHeaderFields = {
      contentSize,
      origSize,
      packetNumber: (opts.firstNumber ?? 1) + index,
      totalPackets,
      fileName: opts.fileName,
    };
    if (opts.tamper) ({ fields, content } = opts.tamper(index, fields, content));
    index++;
    await c.send(encodeSendFilePrefix({ clientId: id.clientId, ...fields }, content.length), content);
  };
  const take = (n: number): Buffer => {
    const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingLen);
    pending.length = 0;
    if (all.length > n) pending.push(all.subarray(n));
    pendingLen = all.length - n;
    return all.subarray(0, n);
  };
  const push = async (ct: Buffer) => {
    if (ct.length === 0) return;
    pending.push(ct);
    pendingLen += ct.length;
    while (pendingLen >= packetSize && index < totalPackets - 1) await emit(take(packetSize));
  };
  if (opts.data instanceof Uint8Array) {
    for (let o = 0; o < opts.data.length; o += 1 << 20)
      await push(cipher.update(opts.data.subarray(o, o + (1 << 20))));
  } else {
    for await (const chunk of createReadStream(opts.data.path, { highWaterMark: 1 << 20 }))
      await push(cipher.update(chunk));
  }
  await push(cipher.final());
  while (pendingLen > packetSize) await emit(take(packetSize));
  let last = take(pendingLen);
  if (opts.padLast && last.length < packetSize)
    last = Buffer.concat([last, Buffer.alloc(packetSize - last.length)]);
  await emit(last);
  return { packets: index };
}

/** What /usr/bin/cksum prints for a file. */
export function systemCksum(path: string): number {
  return Number(execFileSync('cksum', [path], { encoding: 'utf8' }).split(' ')[0]);
}

export function testConfig(dataDir: string, overrides: Partial<ServerConfig> = {}): ServerConfig {
  return {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    maxPayload: DEFAULT_MAX_REQUEST_PAYLOAD,
    maxFileSize: MAX_FILE_SIZE,
    maxConnections: DEFAULT_MAX_CONNECTIONS,
    idleTimeoutMs: 30_000,
    ...HARDENING_DEFAULTS,
    maxPerSource: DEFAULT_MAX_PER_SOURCE,
    maxStartups: DEFAULT_MAX_STARTUPS,
    maxStartupsPerSource: DEFAULT_MAX_STARTUPS_PER_SOURCE,
    loginGraceMs: DEFAULT_LOGIN_GRACE_MS,
    trustedProxies: [...LOOPBACK_CIDRS],
    minUploadRate: DEFAULT_MIN_UPLOAD_RATE,
    uploadRateGraceMs: DEFAULT_UPLOAD_RATE_GRACE_MS,
    logRate: DEFAULT_LOG_RATE,
    access: 'open',
    tcpAllow: [...LOOPBACK_CIDRS],
    publicUrl: DEFAULT_PUBLIC_URL,
    maxTotalBytes: null,
    diskReserve: null,
    clientMaxBytes: null,
    clientMaxFiles: null,
    ...overrides,
  };
}

export interface InProcessServer {
  server: FileServer;
  port: number;
  dataDir: string;
  log: ReturnType<typeof createMemoryLogger>;
  stop(): Promise<void>;
}

/** Starts a server in this process on an ephemeral port with a fresh (or given) data folder. */
export async function startServer(
  overrides: Partial<ServerConfig> = {},
  dataDir?: string,
): Promise<InProcessServer> {
  const dir = dataDir ? null : tempDir();
  const data = dataDir ?? dir!.path;
  const log = createMemoryLogger();
  const server = createFileServer(testConfig(data, overrides), { log: log.log });
  const addr = await server.listen();
  return {
    server,
    port: addr.port,
    dataDir: data,
    log,
    stop: async () => {
      await server.close();
      dir?.remove();
    },
  };
}

/** `server/main.ts` as its own process (test/support/processes). */
export type SpawnedServer = Listening;

export interface SpawnOptions {
  /** ulimit -f for the process (KiB). */
  fileSizeLimitKiB?: number;
  /** The process's umask, e.g. '000'. */
  umask?: string;
  /** StartOptions.preload. */
  preload?: string;
  /** Added to the process's environment. */
  env?: Record<string, string>;
}

/** Runs `server/main.ts` as its own process and waits for its `listening` event. */
export function spawnServer(args: string[], cwd: string, opts: SpawnOptions = {}): Promise<SpawnedServer> {
  return spawnPart('server', args, {
    cwd,
    fileSizeLimitKiB: opts.fileSizeLimitKiB,
    umask: opts.umask,
    ...(opts.preload ? { preload: opts.preload } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    timeoutMs: 30_000,
  });
}

/** Mounts a tmpfs of `size` (e.g. '64m') on `dir`; false without permission (root and mount). */
export function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Polls `cond` every 20 ms until it holds (bounded), instead of guessing a sleep under load. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
