/**
 * The real file server (in process, real TCP) behind an in-process bridge, driven by
 * lib/client's ClientSession over cli/ws-transport.ts, the way the browser drives it.
 * Every upload is checked against the bytes the server stored on disk.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ConnectionRecord } from '../../bridge/log';
import { createKeyPair, nodeEncryptorFactory, unwrapperFor } from '../../cli/node-crypto';
import { WsTransport } from '../../cli/ws-transport';
import { ClientSession, establishIdentity, type FileSource, isClientError } from '../../lib/client';
import { createMemoryLogger } from '../../platform/log';
import { parseArgs } from '../../server/config';
import { createFileServer, type FileServer } from '../../server/server';
import { ORIGIN, startBridge, type TestBridge, until } from './helpers';

const MiB = 1024 * 1024;
let dataDir: string;
let server: FileServer;
let bridge: TestBridge;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sft-bridge-'));
  const { config } = parseArgs(['--host', '127.0.0.1', '--port', '0', '--data', dataDir], {}, dataDir);
  server = createFileServer(config, { log: createMemoryLogger().log });
  const addr = await server.listen();
  bridge = await startBridge(addr.port);
});

afterAll(async () => {
  await bridge?.close();
  await server?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function openSession(): Promise<{ session: ClientSession; transport: WsTransport }> {
  const transport = await WsTransport.connect(bridge.url, { origin: ORIGIN });
  return { session: new ClientSession({ transport, encryptorFactory: nodeEncryptorFactory }), transport };
}

/** Deterministic bytes made chunk by chunk (never the whole file at once): xorshift per chunk. */
function chunkBytes(index: number, length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + index * 40503 + 1) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** A file of `size` bytes generated as it is read, with the SHA-256 of what was read. */
function generatedFile(
  name: string,
  size: number,
  seed: number,
  chunk = 256 * 1024,
): FileSource & { sha256(): string } {
  let digest = '';
  return {
    name,
    size,
    async *open() {
      const hash = createHash('sha256');
      for (let at = 0, i = 0; at < size; at += chunk, i++) {
        const bytes = chunkBytes(i, Math.min(chunk, size - at), seed);
        hash.update(bytes);
        yield bytes;
      }
      digest = hash.digest('hex');
    },
    sha256: () => digest,
  };
}

/** Path and Verified flag of a stored file, from the reference schema of defensive.db. */
function storedFile(clientId: Uint8Array, fileName: string): { path: string; verified: boolean } {
  const db = new Database(join(dataDir, 'defensive.db'), { readonly: true, fileMustExist: true });
  try {
    const row = db
      .prepare('SELECT PathName, Verified FROM files WHERE ID = ? AND FileName = ?')
      .get(Buffer.from(clientId), fileName) as { PathName: string; Verified: number } | undefined;
    if (!row) throw new Error(`no files row for ${fileName}`);
    return { path: join(dataDir, 'files', row.PathName), verified: row.Verified === 1 };
  } finally {
    db.close();
  }
}

async function sha256OfFile(path: string): Promise<{ hex: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { hex: hash.digest('hex'), size };
}

describe('browser-like client -> bridge -> real file server', () => {
  test('register, then uploads from 0 bytes to 50 MiB on one connection, stored bytes verified', async () => {
    const { session, transport } = await openSession();
    const { clientId, aesKey, registered } = await establishIdentity(session, {
      name: 'bridge-uploader',
      createKeyPair,
    });
    expect(registered).toBe(true);
    const sizes = [0, 1, 15, 16, 17, 65_535, 65_536, 65_537, 3 * MiB + 5, 50 * MiB];
    for (const [i, size] of sizes.entries()) {
      const file = generatedFile(`file-${i}-${size}.bin`, size, i + 1);
      const result = await session.sendFile(file, aesKey);
      expect(result).toMatchObject({ verified: true, attempts: 1, size });
      const stored = storedFile(clientId, file.name);
      expect(stored.verified).toBe(true);
      expect(await sha256OfFile(stored.path)).toEqual({ hex: file.sha256(), size });
    }
    transport.close();
    await transport.whenClosed();
    await until(
      () => bridge.logs.some((l) => l.event === 'connection' && (l as ConnectionRecord).bytesIn > 50 * MiB),
      'the log line',
    );
  }, 180_000);

  test('reconnect with the stored identity on a new connection, then upload', async () => {
    const first = await openSession();
    const kp = await createKeyPair();
    const est = await establishIdentity(first.session, {
      name: 'bridge-returning',
      createKeyPair: async () => kp,
    });
    first.transport.close();
    await first.transport.whenClosed();

    const second = await openSession();
    const again = await establishIdentity(second.session, {
      name: 'bridge-returning',
      existing: { clientId: est.clientId },
      unwrap: await unwrapperFor(kp.privateKeyPkcs8),
      createKeyPair,
    });
    expect(again).toMatchObject({ registered: false, reconnectRejected: false });
    expect(Buffer.from(again.clientId).equals(Buffer.from(est.clientId))).toBe(true);
    const file = generatedFile('after-reconnect.bin', 200_000, 99);
    expect((await second.session.sendFile(file, again.aesKey)).verified).toBe(true);
    const stored = storedFile(est.clientId, file.name);
    expect(await sha256OfFile(stored.path)).toEqual({ hex: file.sha256(), size: 200_000 });
    second.transport.close();
  });

  test('server answers relayed as is: unknown client reconnect gets 1606, a taken name gets 1601', async () => {
    const a = await openSession();
    const est = await establishIdentity(a.session, {
      name: 'bridge-stranger',
      existing: { clientId: new Uint8Array(16).fill(9) },
      unwrap: async () => new Uint8Array(32),
      createKeyPair,
    });
    expect(est).toMatchObject({ registered: true, reconnectRejected: true });
    a.transport.close();

    const b = await openSession();
    const err = await b.session.register('bridge-stranger').catch((e: unknown) => e);
    expect(isClientError(err, 'CLIENT_ERR_NAME_TAKEN')).toBe(true);
    b.transport.close();
  });
});
