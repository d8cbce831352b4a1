/**
 * Shared pieces of the hostile-input and fault tests (issue 7): the real server as its own
 * process, a frame connection over TCP or through the bridge, a baseline of stored files,
 * and the checks every test ends with: a well-behaved client still registers and uploads,
 * files stored earlier are byte-identical (SHA-256) with their database rows unchanged,
 * and nothing lies outside the data folder's layout.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { expect } from 'vitest';
import WebSocket from 'ws';
import { cksum } from '../../lib/crypto';
import {
  ciphertextSize,
  decodeResponse,
  decodeResponseHeader,
  EMPTY_CLIENT_ID,
  encodeRequest,
  encodeSendFilePrefix,
  RESPONSE_HEADER_SIZE,
  RequestCode,
  type Response,
  ResponseCode,
  ZERO_IV,
} from '../../lib/protocol';
import { LOCK_FILES } from '../../server/data-lock';
import type { FileRow } from '../../server/database';
import { SERVER_KEY_FILES } from '../../server/v4/server-key';
import {
  makeRsaKeys,
  RawClient,
  type RsaKeys,
  type SpawnedServer,
  type SpawnOptions,
  spawnServer,
  tempDir,
  unwrapKey,
} from './server-helpers';
import { openDb, queryDb } from './server-state';

export { alive } from './processes';
export { RawClient, tempDir, unwrapKey } from './server-helpers';
export { openDb } from './server-state';

export const KiB = 1024;
export const MiB = 1024 * 1024;
/** Origin the bridge allows by default. */
export const ORIGIN = 'http://localhost:3000';

/** Anything that carries whole request frames one way and responses the other. */
export interface FrameConn {
  sendFrame(frame: Uint8Array): Promise<void>;
  /** Next response; null once the connection closed first. */
  next(timeoutMs?: number): Promise<Response | null>;
  close(): void;
}

/** `localAddress`: the source address (127.0.0.2 ... for another host). */
export async function tcpConn(port: number, localAddress?: string): Promise<FrameConn & { raw: RawClient }> {
  const raw = await RawClient.connect(port, localAddress);
  return {
    raw,
    sendFrame: (f) => raw.send(f),
    next: (t) => raw.next(t),
    close: () => raw.close(),
  };
}

export interface WsConn extends FrameConn {
  ws: WebSocket;
  /** Close code and reason the bridge sent (or 1006). */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * A browser-like WebSocket client: one request frame per binary message, one response per
 * message. `opts.localAddress` picks the source address (e.g. 127.0.0.3).
 */
export function wsConn(
  url: string,
  opts: { localAddress?: string; protocols?: string[] } = {},
): Promise<WsConn> {
  const { protocols, ...rest } = opts;
  const ws = new WebSocket(url, protocols ?? [], { perMessageDeflate: false, origin: ORIGIN, ...rest });
  const queue: Response[] = [];
  const waiters: ((r: Response | null) => void)[] = [];
  let isClosed = false;
  ws.on('message', (data: Buffer) => {
    const r = decodeResponse(decodeResponseHeader(data), data.subarray(RESPONSE_HEADER_SIZE));
    const w = waiters.shift();
    if (w) w(r);
    else queue.push(r);
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((res) =>
    ws.once('close', (code, reason) => {
      isClosed = true;
      for (const w of waiters.splice(0)) w(null);
      res({ code, reason: reason.toString() });
    }),
  );
  const conn: WsConn = {
    ws,
    closed,
    sendFrame: (f) =>
      new Promise((res) => {
        if (ws.readyState !== WebSocket.OPEN) return res();
        ws.send(f, { binary: true }, () => res());
      }),
    next(timeoutMs = 20_000) {
      const r = queue.shift();
      if (r) return Promise.resolve(r);
      if (isClosed) return Promise.resolve(null);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error('no response within the time limit')), timeoutMs);
        waiters.push((x) => {
          clearTimeout(timer);
          res(x);
        });
      });
    },
    close: () => ws.terminate(),
  };
  return new Promise((res, rej) => {
    ws.once('open', () => res(conn));
    ws.once('unexpected-response', (_q, r) => rej(new Error(`HTTP ${r.statusCode}`)));
    ws.once('error', rej);
  });
}

export interface Client {
  name: string;
  clientId: Uint8Array;
  keys: RsaKeys;
  aesKey: Buffer;
}

let rsaPool: RsaKeys[] = [];
/** RSA key generation is slow on a loaded box; reuse a few pairs (tests never rely on distinct keys). */
export function rsaKeys(): RsaKeys {
  if (rsaPool.length < 4) rsaPool = [...rsaPool, makeRsaKeys()];
  return rsaPool[Math.floor(Math.random() * rsaPool.length)]!;
}

export async function expectCode(conn: FrameConn, frame: Uint8Array, code: number): Promise<Response> {
  await conn.sendFrame(frame);
  const r = await conn.next();
  expect(r?.code).toBe(code);
  return r!;
}

/** 1025 then 1026 on `conn`. */
export async function register(conn: FrameConn, name: string, keys = rsaKeys()): Promise<Client> {
  const r1 = await expectCode(
    conn,
    encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }),
    ResponseCode.Registered,
  );
  if (r1.code !== ResponseCode.Registered) throw new Error('unreachable');
  const r2 = await expectCode(
    conn,
    encodeRequest({ code: RequestCode.SendPublicKey, clientId: r1.clientId, name, publicKey: keys.spki }),
    ResponseCode.PublicKeyAccepted,
  );
  if (r2.code !== ResponseCode.PublicKeyAccepted) throw new Error('unreachable');
  return { name, clientId: r1.clientId, keys, aesKey: unwrapKey(keys, r2.encryptedKey) };
}

/** 1027 on `conn`; returns the client with the connection's new AES key. */
export async function reconnect(conn: FrameConn, c: Client): Promise<Client> {
  const r = await expectCode(
    conn,
    encodeRequest({ code: RequestCode.Reconnect, clientId: c.clientId, name: c.name }),
    ResponseCode.Reconnected,
  );
  if (r.code !== ResponseCode.Reconnected) throw new Error('unreachable');
  return { ...c, aesKey: unwrapKey(c.keys, r.encryptedKey) };
}

/** The 1028 frames of a small in-memory file, encrypted with the client's key. */
export function fileFrames(
  c: Pick<Client, 'clientId' | 'aesKey'>,
  fileName: string,
  data: Uint8Array,
  packetSize = 16 * KiB,
): Uint8Array[] {
  const cipher = createCipheriv('aes-256-cbc', c.aesKey, ZERO_IV);
  const ct = Buffer.concat([cipher.update(data), cipher.final()]);
  const contentSize = ciphertextSize(data.length);
  const total = Math.max(1, Math.ceil(ct.length / packetSize));
  const frames: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    const content = ct.subarray(i * packetSize, (i + 1) * packetSize);
    const prefix = encodeSendFilePrefix(
      {
        clientId: c.clientId,
        contentSize,
        origSize: data.length,
        packetNumber: i + 1,
        totalPackets: total,
        fileName,
      },
      content.length,
    );
    frames.push(Buffer.concat([prefix, content]));
  }
  return frames;
}

/** Sends a file and returns the server's answer to its last packet. */
export async function upload(
  conn: FrameConn,
  c: Client,
  fileName: string,
  data: Uint8Array,
  packetSize?: number,
): Promise<Response | null> {
  for (const f of fileFrames(c, fileName, data, packetSize)) await conn.sendFrame(f);
  return conn.next();
}

/** Upload, expect 1603 with the right CRC, then 1029 -> 1604. */
export async function uploadVerified(conn: FrameConn, c: Client, fileName: string, data: Uint8Array) {
  const r = await upload(conn, c, fileName, data);
  expect(r).toMatchObject({ code: ResponseCode.FileReceived, cksum: cksum(data), fileName });
  await expectCode(
    conn,
    encodeRequest({ code: RequestCode.CrcOk, clientId: c.clientId, fileName }),
    ResponseCode.Thanks,
  );
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function hex(id: Uint8Array): string {
  return Buffer.from(id).toString('hex');
}

export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

// ---------------------------------------------------------------- the server process

export interface ServerProcess {
  port: number;
  pid: number;
  cwd: string;
  data: string;
  spawned: SpawnedServer;
  /** The server's stdout and stderr so far. */
  output(): string;
  /** Starts it again on the same data folder (and the same port unless told otherwise). */
  restart(opts?: { samePort?: boolean }): Promise<void>;
  /** Signal and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Stops it (SIGKILL) and removes its folder; for afterAll. */
  dispose(): Promise<void>;
}

/**
 * `server/main.ts` as its own process in a fresh temp folder (or on `dataDir`). `args` are
 * extra flags, e.g. ['--idle-timeout', '1'].
 */
export async function startServerProcess(
  args: string[] = [],
  dataDir?: string,
  spawnOpts: SpawnOptions = {},
): Promise<ServerProcess> {
  const dir = tempDir('sft-hostile-');
  const data = dataDir ?? join(dir.path, 'data');
  let spawned = await spawnServer(['--port', '0', '--data', data, ...args], dir.path, spawnOpts);
  const sp: ServerProcess = {
    port: spawned.port,
    pid: spawned.proc.pid!,
    cwd: dir.path,
    data,
    spawned,
    output: () => spawned.output(),
    async restart(opts = {}) {
      await spawned.stop('SIGKILL');
      const port = opts.samePort === false ? 0 : sp.port;
      spawned = await spawnServer(['--port', String(port), '--data', data, ...args], dir.path, spawnOpts);
      sp.spawned = spawned;
      sp.port = spawned.port;
      sp.pid = spawned.proc.pid!;
    },
    stop: (signal = 'SIGTERM') => spawned.stop(signal),
    async dispose() {
      await spawned.stop('SIGKILL');
      dir.remove();
    },
  };
  return sp;
}

/** User + system CPU seconds of a process so far (Linux /proc/PID/stat, clock ticks of 10 ms). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Bytes a process caused to be written to storage so far (Linux /proc/PID/io). */
export function writeBytes(pid: number): number {
  const m = /^write_bytes: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

/** Lifts the log sampling (--log-rate) for tests that count the lines of one kind of outcome. */
export const EVERY_LOG_LINE = ['--log-rate', '100000'];

/**
 * Flags lifting the per-source 1025/1027 limits (and v4's handshakes), for suites that send thousands of requests
 * from 127.0.0.1 to test something else (framing, misuse); the limits have their own tests.
 */
export const NO_PEER_LIMITS = [
  ...['--reconnect-per-minute', '1000000', '--register-per-minute', '1000000'],
  ...['--client-decrypt-failures-per-hour', '1000000', '--handshakes-per-minute', '1000000'],
  ...EVERY_LOG_LINE,
];

/** The JSON log lines a server process has written so far. */
export function serverLog(srv: Pick<ServerProcess, 'output'>): Record<string, unknown>[] {
  return srv
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) * 1024;
}

// ---------------------------------------------------------------- stored state

export interface StoredState {
  /** Path relative to the data folder -> SHA-256 of the bytes, for every file under files/. */
  files: Map<string, string>;
  /** `${client hex}/${FileName}` -> the whole files row as JSON. */
  rows: Map<string, string>;
  /** client hex -> Name and PublicKey (LastSeen and AESKey change with every visit). */
  clients: Map<string, string>;
}

export function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
  );
}

/** A files row as better-sqlite3 reads it (BLOBs as Buffer). */
type FileRowRaw = FileRow & { ID: Buffer };

export function fileRows(data: string): FileRowRaw[] {
  return queryDb<FileRowRaw>(data, 'SELECT * FROM files');
}

export function snapshot(data: string): StoredState {
  const files = new Map<string, string>();
  for (const p of walk(join(data, 'files'))) files.set(relative(data, p), sha256(readFileSync(p)));
  const db = openDb(data);
  try {
    const rows = new Map<string, string>();
    for (const r of db.prepare('SELECT * FROM files').all() as FileRowRaw[]) {
      rows.set(`${hex(r.ID)}/${r.FileName}`, JSON.stringify({ ...r, ID: hex(r.ID) }));
    }
    const clients = new Map<string, string>();
    for (const c of db.prepare('SELECT ID, Name, PublicKey FROM clients').all() as {
      ID: Buffer;
      Name: string;
      PublicKey: Buffer | null;
    }[]) {
      clients.set(
        hex(c.ID),
        JSON.stringify({ Name: c.Name, PublicKey: c.PublicKey?.toString('hex') ?? null }),
      );
    }
    return { files, rows, clients };
  } finally {
    db.close();
  }
}

/** Every file, row and client of `before` is still there, byte for byte and field for field. */
export function expectIntact(data: string, before: StoredState): void {
  const now = snapshot(data);
  for (const [path, digest] of before.files) expect(now.files.get(path), `file ${path}`).toBe(digest);
  for (const [key, row] of before.rows) expect(now.rows.get(key), `files row ${key}`).toBe(row);
  for (const [id, c] of before.clients) expect(now.clients.get(id), `client ${id}`).toBe(c);
}

/**
 * The data folder holds only defensive.db (and its -wal/-shm), the invite key pair, tmp/<file> and
 * files/<registered client hex>/<file>; every row's PathName lies in its own client's folder
 * and names a file that exists.
 */
export function expectConfined(data: string): void {
  const db = openDb(data);
  // A client's files live in its opaque Folder (or, stored before Folder existed, its ID's hex).
  const clients = db.prepare('SELECT ID, Folder FROM clients').all() as {
    ID: Buffer;
    Folder: string | null;
  }[];
  const folders = new Map<string, string[]>(
    clients.map((r) => [hex(r.ID), [hex(r.ID), ...(r.Folder ? [r.Folder] : [])]]),
  );
  const ids = new Set([...folders.values()].flat());
  db.close();
  for (const p of walk(data)) {
    const parts = relative(data, p).split(sep);
    if (parts.length === 1) {
      // The database, the server's own v4 key (server.key, server.pub) and its lock (server.pid).
      if (!SERVER_KEY_FILES.includes(parts[0]!) && !LOCK_FILES.includes(parts[0]!))
        expect(parts[0], p).toMatch(/^(defensive\.db(-wal|-shm|-journal)?|invite\.(key|pub))$/);
    } else if (parts[0] === 'tmp') expect(parts.length, p).toBe(2);
    else if (parts[0] === 'partial') expect(parts.length, p).toBe(2);
    else {
      expect(parts[0], p).toBe('files');
      expect(parts.length, p).toBe(3);
      expect(ids.has(parts[1]!), `folder of an unregistered client: ${p}`).toBe(true);
    }
  }
  for (const r of fileRows(data)) {
    const own = folders.get(hex(r.ID)) ?? [];
    const folder = own.find((f) => r.PathName.startsWith(`${f}/`));
    expect(folder, r.PathName).toBeDefined();
    expect(r.PathName.slice(folder!.length + 1).includes('/'), r.PathName).toBe(false);
    expect(existsSync(join(data, 'files', r.PathName)), r.PathName).toBe(true);
  }
}

/** Files two clients stored before the attacks: some verified, some not. */
export interface Baseline {
  alice: Client;
  bob: Client;
  /** What each stored name holds: `${client hex}/${FileName}` -> SHA-256. */
  contents: Map<string, string>;
  state: StoredState;
}

export const BASELINE_NAMES = ['report.pdf', 'notes.txt', 'data.bin'] as const;

export async function seedBaseline(conn: FrameConn, data: string): Promise<Baseline> {
  const contents = new Map<string, string>();
  const put = async (c: Client, fileName: string, bytes: Uint8Array, verify: boolean) => {
    if (verify) await uploadVerified(conn, c, fileName, bytes);
    else expect((await upload(conn, c, fileName, bytes))?.code).toBe(ResponseCode.FileReceived);
    contents.set(`${hex(c.clientId)}/${fileName}`, sha256(bytes));
  };
  // The connection's AES key belongs to the client that exchanged it last.
  const alice = await register(conn, randomName('alice'));
  await put(alice, 'report.pdf', randomBytes(40 * KiB), true);
  await put(alice, 'notes.txt', Buffer.from('meeting at noon\n'), false);
  const bob = await register(conn, randomName('bob'));
  await put(bob, 'report.pdf', randomBytes(70 * KiB), true);
  await put(bob, 'data.bin', randomBytes(200 * KiB + 3), true);
  const state = snapshot(data);
  for (const [key, digest] of contents) {
    const row = JSON.parse(state.rows.get(key)!) as { PathName: string };
    expect(state.files.get(join('files', row.PathName))).toBe(digest);
  }
  return { alice, bob, contents, state };
}

/**
 * A new client registers, uploads, gets the right CRC and 1604 for its 1029, and the stored
 * bytes equal what it sent. `open` makes a fresh connection (TCP or through the bridge).
 */
export async function expectHealthy(open: () => Promise<FrameConn>, data: string): Promise<void> {
  const conn = await open();
  try {
    const c = await register(conn, randomName('healthy'));
    const bytes = randomBytes(30 * KiB + 5);
    await uploadVerified(conn, c, 'check.bin', bytes);
    const row = fileRows(data).find((r) => hex(r.ID) === hex(c.clientId) && r.FileName === 'check.bin');
    expect(row?.Verified).toBe(1);
    expect(sha256(readFileSync(join(data, 'files', row!.PathName)))).toBe(sha256(bytes));
  } finally {
    conn.close();
  }
}

/** Waits until `cond` holds, polling every 20 ms. */
export async function until(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One padding-oracle query: a one-packet 1028 of `ct` (32 bytes: two blocks) announcing 31
 * bytes of plaintext (padding 0x01), under another name than a victim's report ('forged.txt'),
 * so that a lucky query cannot replace it.
 */
export function paddingQuery(c: Client, ct: Uint8Array): Uint8Array {
  const prefix = encodeSendFilePrefix(
    {
      clientId: c.clientId,
      contentSize: ct.length,
      origSize: ct.length - 1,
      packetNumber: 1,
      totalPackets: 1,
      fileName: 'forged.txt',
    },
    ct.length,
  );
  return Buffer.concat([prefix, ct]);
}
