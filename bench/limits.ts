/**
 * Physical limits measured in the same run as the uploads, so ratios hold on a noisy
 * machine: Node AES-256-CBC encrypt/decrypt on one core, loopback TCP, our JS cksum.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, webcrypto } from 'node:crypto';
import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { type AddressInfo, connect, createServer } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { nodeEncryptorFactory } from '../cli/node-crypto';
import { Cksum } from '../lib/crypto';
import { ZERO_IV } from '../lib/protocol';
import { RECORD_SIZE } from '../lib/protocol/v4/constants';
import { StreamSealer } from '../lib/v4/stream';
import { FileAppender } from '../platform/direct-writes';
import { nodeRecordAead } from '../platform/node-gcm';
import { PageAlignedPool } from '../platform/page-aligned';

const MiB = 1024 * 1024;

export function mibPerSec(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

/** Runs `fn` over `total` bytes in `chunk`-sized calls and returns MiB/s. */
function timed(total: number, chunk: Buffer, fn: (c: Buffer) => void): number {
  const start = performance.now();
  for (let done = 0; done < total; done += chunk.length) fn(chunk);
  return mibPerSec(total, performance.now() - start);
}

/** Node's AES-256-CBC encryption in `chunkSize` calls (1 MiB: the CLI's read size). */
export function nodeAesEncrypt(total: number, chunkSize = MiB): number {
  const cipher = createCipheriv('aes-256-cbc', randomBytes(32), ZERO_IV);
  const chunk = randomBytes(chunkSize);
  const rate = timed(total, chunk, (c) => cipher.update(c));
  cipher.final();
  return rate;
}

export function nodeAesDecrypt(total: number, chunkSize = MiB): number {
  const key = randomBytes(32);
  const chunk = createCipheriv('aes-256-cbc', key, ZERO_IV).update(randomBytes(chunkSize));
  const decipher = createDecipheriv('aes-256-cbc', key, ZERO_IV);
  decipher.setAutoPadding(false);
  return timed(total, chunk, (c) => decipher.update(c));
}

export function jsCksum(total: number): number {
  const crc = new Cksum();
  const rate = timed(total, randomBytes(MiB), (c) => crc.update(c));
  crc.digest();
  return rate;
}

/** A rate and the CPU seconds per GiB it cost this process (user + system, all threads). */
export interface RateAndCpu {
  MiBps: number;
  cpuSecondsPerGiB: number;
}

function cpuPerGiB(total: number, before: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6 / (total / (1024 * MiB));
}

/**
 * WebCrypto AES-256-GCM in Node, one call per `size`-byte record (v4's record size), `depth`
 * calls in flight (Node runs each on its thread pool, so several can use both cores): MiB/s
 * and the CPU seconds per GiB of this process, all threads.
 */
export async function nodeWebCryptoGcm(
  total: number,
  op: 'encrypt' | 'decrypt',
  depth = 1,
  size = RECORD_SIZE,
): Promise<RateAndCpu> {
  const { subtle } = webcrypto;
  const key = await subtle.importKey('raw', randomBytes(32), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const iv = new Uint8Array(12);
  const plain = randomBytes(size);
  const input =
    op === 'encrypt' ? plain : new Uint8Array(await subtle.encrypt({ name: 'AES-GCM', iv }, key, plain));
  const pending: Promise<ArrayBuffer>[] = [];
  const before = process.cpuUsage();
  const start = performance.now();
  for (let done = 0; done < total; done += size) {
    pending.push(subtle[op]({ name: 'AES-GCM', iv }, key, input));
    if (pending.length >= depth) await pending.shift();
  }
  await Promise.all(pending);
  return { MiBps: mibPerSec(total, performance.now() - start), cpuSecondsPerGiB: cpuPerGiB(total, before) };
}

/** node:crypto AES-256-GCM on this thread, one cipher per `size`-byte record. */
export function nodeCryptoGcm(total: number, op: 'encrypt' | 'decrypt', size = RECORD_SIZE): RateAndCpu {
  const key = randomBytes(32);
  const iv = Buffer.alloc(12);
  const plain = randomBytes(size);
  const enc = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([enc.update(plain), enc.final(), enc.getAuthTag()]);
  const before = process.cpuUsage();
  const start = performance.now();
  for (let done = 0; done < total; done += size) {
    if (op === 'encrypt') {
      const c = createCipheriv('aes-256-gcm', key, iv);
      c.update(plain);
      c.final();
      c.getAuthTag();
    } else {
      const d = createDecipheriv('aes-256-gcm', key, iv);
      d.setAuthTag(sealed.subarray(size));
      d.update(sealed.subarray(0, size));
      d.final();
    }
  }
  return { MiBps: mibPerSec(total, performance.now() - start), cpuSecondsPerGiB: cpuPerGiB(total, before) };
}

/** node:crypto SHA-256 (v4's whole-file hash on the server and the CLI) in `size`-byte updates. */
export function nodeSha256(total: number, size = RECORD_SIZE): number {
  const h = createHash('sha256');
  const rate = timed(total, randomBytes(size), (c) => h.update(c));
  h.digest();
  return rate;
}

/**
 * The per-byte cryptography of the CLI alone, on one core, with the CLI's own pieces: v3 is
 * AES-256-CBC over the whole file (each block waits for the one before) and the cksum; v4 is
 * STREAM records sealed with node:crypto GCM and the whole-file SHA-256. No network, no disk:
 * what v4 changes on the client, apart from what the server and the kernel cost both.
 */
export async function clientCryptoPath(total: number): Promise<{ v3: number; v4: number }> {
  const chunk = randomBytes(MiB);
  let start = performance.now();
  const enc = await nodeEncryptorFactory(randomBytes(32));
  const crc = new Cksum();
  for (let done = 0; done < total; done += chunk.length) {
    crc.update(chunk);
    enc.update(chunk);
  }
  enc.final();
  crc.digest();
  const v3 = mibPerSec(total, performance.now() - start);
  const sealer = new StreamSealer({
    fileKey: randomBytes(32),
    binding: randomBytes(32),
    uploadId: randomBytes(16),
    size: total,
    aead: nodeRecordAead,
  });
  await sealer.ready();
  start = performance.now();
  const h = createHash('sha256');
  for (let i = 0; i * RECORD_SIZE < total; i++) {
    const record = chunk.subarray((i * RECORD_SIZE) % MiB, ((i * RECORD_SIZE) % MiB) + RECORD_SIZE);
    h.update(record);
    await sealer.seal(i, record);
  }
  h.digest();
  return { v3, v4: mibPerSec(total, performance.now() - start) };
}

/**
 * The disk through the page cache: `total` bytes in 1 MiB writes to a new file in `dir`, with
 * an fdatasync every 32 MiB and an fsync at the end (what a plain writer pays; the server
 * writes past the cache, diskWriteDirect).
 */
export function diskWrite(dir: string, total: number): RateAndCpu {
  const path = join(dir, 'disk-limit.bin');
  const chunk = randomBytes(MiB);
  const fd = openSync(path, 'w');
  const before = process.cpuUsage();
  const start = performance.now();
  try {
    for (let done = 0; done < total; done += chunk.length) {
      writeSync(fd, chunk);
      if ((done + chunk.length) % (32 * MiB) === 0) fdatasyncSync(fd);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const rate = {
    MiBps: mibPerSec(total, performance.now() - start),
    cpuSecondsPerGiB: cpuPerGiB(total, before),
  };
  rmSync(path, { force: true });
  return rate;
}

/**
 * Reading a file from the page cache in 1 MiB preads, as the CLI reads what it sends: into a
 * page-aligned buffer (platform/page-aligned.ts, what the CLI uses) and into one that starts 16
 * bytes into a page, where glibc puts the data of a block it maps for a Buffer of 1 MiB. Both
 * are slices of one aligned buffer, so that where malloc puts things does not decide. The file
 * of `total` bytes is read once to bring it into the cache, then 3 rounds alternate the two
 * buffers, 2 reads of the file each: CPU seconds per GiB read (nearly all of it the kernel's
 * copy), the lowest and highest round of each. The offset buffer is slow in a process's first
 * reads and often as fast as the aligned one later (bench/README.md, "Reads into aligned
 * buffers"); the aligned one is fast in all.
 */
export function fileRead(dir: string, total: number): { aligned: number[]; offset: number[] } {
  const path = join(dir, 'read-limit.bin');
  writeFileSync(path, randomBytes(total));
  const fd = openSync(path, 'r');
  const readAll = (into: Buffer) => {
    for (let at = 0; ; ) {
      const n = readSync(fd, into, 0, into.length, at);
      if (n === 0) return;
      at += n;
    }
  };
  const measure = (into: Buffer): number => {
    const before = process.cpuUsage();
    for (let i = 0; i < 2; i++) readAll(into);
    return cpuPerGiB(2 * total, before);
  };
  try {
    const room = new PageAlignedPool(MiB + 4096, { perMemory: 1 }).take()!;
    readAll(room); // the file into the cache, and the buffer's pages into memory
    const aligned: number[] = [];
    const offset: number[] = [];
    for (let round = 0; round < 3; round++) {
      offset.push(measure(room.subarray(16, 16 + MiB)));
      aligned.push(measure(room.subarray(0, MiB)));
    }
    const span = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];
    return { aligned: span(aligned), offset: span(offset) };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/**
 * The disk as the server writes an upload: 1 MiB writes one at a time through
 * platform/direct-writes.ts (O_DIRECT from page-aligned staging buffers where the file system
 * allows it), an fdatasync at every v4 durable point (4 MiB) and an fsync at the end. The CPU
 * is the whole process's (the thread pool does the writes).
 */
export async function diskWriteDirect(dir: string, total: number): Promise<RateAndCpu & { direct: boolean }> {
  const path = join(dir, 'disk-limit-direct.bin');
  const chunk = randomBytes(MiB);
  const handle = await open(path, 'w');
  const appender = await FileAppender.open(path, handle);
  const direct = appender.direct;
  const before = process.cpuUsage();
  const start = performance.now();
  try {
    for (let done = 0; done < total; done += chunk.length) {
      await appender.write([chunk], done);
      if ((done + chunk.length) % (4 * MiB) === 0) await handle.datasync();
    }
    await handle.sync();
  } finally {
    await appender.close();
    await handle.close();
  }
  const rate = {
    MiBps: mibPerSec(total, performance.now() - start),
    cpuSecondsPerGiB: cpuPerGiB(total, before),
    direct,
  };
  rmSync(path, { force: true });
  return rate;
}

/**
 * Loopback TCP: one socket writes `total` bytes in 1 MiB writes, the other discards them;
 * the CPU is both ends' (they run in this process).
 */
export async function loopbackTcp(total: number): Promise<RateAndCpu> {
  const server = createServer();
  let received = 0;
  const done = new Promise<void>((resolve) => {
    server.on('connection', (s) =>
      s.on('data', (d) => {
        received += d.length;
        if (received >= total) resolve();
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const sock = connect(port, '127.0.0.1');
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const chunk = randomBytes(MiB);
  const before = process.cpuUsage();
  const start = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise<void>((r) => sock.once('drain', () => r()));
  }
  await done;
  const rate = {
    MiBps: mibPerSec(total, performance.now() - start),
    cpuSecondsPerGiB: cpuPerGiB(total, before),
  };
  sock.destroy();
  server.close();
  return rate;
}

/** What a path can do at most on this machine, and the CPU no implementation of it can skip. */
export interface Ceiling {
  MiBps: number;
  cpuSecondsPerGiB: number;
  /** The limit that sets MiBps: a serial step, the disk, or the cores. */
  by: 'serial' | 'disk' | 'cores';
}

function ceiling(serialMiBps: number, disk: RateAndCpu, cpuSecondsPerGiB: number): Ceiling {
  const byCpu = (cpus().length * 1024) / cpuSecondsPerGiB;
  const MiBps = Math.min(serialMiBps, disk.MiBps, byCpu);
  const by = MiBps === serialMiBps ? 'serial' : MiBps === disk.MiBps ? 'disk' : 'cores';
  return { MiBps, cpuSecondsPerGiB, by };
}

/**
 * The most the CLI -> server path can do on this machine whatever the code, per protocol, from
 * the limits measured one by one. The work no implementation can skip must fit in the
 * machine's cores, a serial step runs on one core at most, and the disk takes what it takes
 * (as the server writes: diskWriteDirect).
 * - v3: AES-CBC encrypt (serial: each block waits for the one before), AES-CBC decrypt, the
 *   cksum on both sides, the loopback TCP copies, the disk write.
 * - v4: AES-GCM seal and open (node:crypto, as the CLI and server run them), the whole-file
 *   SHA-256 on both sides (serial within a file), the loopback TCP copies, the disk write.
 * Their ratio is the best v4 / v3 this machine allows when client and server share its cores.
 */
export function cliPathCeilings(l: {
  nodeAesEncryptMiBps: number;
  nodeAesEncrypt64kMiBps: number;
  nodeAesDecryptMiBps: number;
  nodeAesDecrypt64kMiBps: number;
  jsCksumMiBps: number;
  loopbackTcp: RateAndCpu;
  diskDirect: RateAndCpu;
  nodeCryptoGcmSeal: RateAndCpu;
  nodeCryptoGcmOpen: RateAndCpu;
  sha256MiBps: number;
}): { v3: Ceiling; v4: Ceiling; v4OverV3: number } {
  const perGiB = (mibps: number) => 1024 / mibps;
  // Each at its best call size: a ceiling must not charge for our own choices.
  const enc = Math.max(l.nodeAesEncryptMiBps, l.nodeAesEncrypt64kMiBps);
  const dec = Math.max(l.nodeAesDecryptMiBps, l.nodeAesDecrypt64kMiBps);
  const shared = l.loopbackTcp.cpuSecondsPerGiB + l.diskDirect.cpuSecondsPerGiB;
  const v3 = ceiling(enc, l.diskDirect, perGiB(enc) + perGiB(dec) + 2 * perGiB(l.jsCksumMiBps) + shared);
  const v4 = ceiling(
    l.sha256MiBps,
    l.diskDirect,
    l.nodeCryptoGcmSeal.cpuSecondsPerGiB +
      l.nodeCryptoGcmOpen.cpuSecondsPerGiB +
      2 * perGiB(l.sha256MiBps) +
      shared,
  );
  return { v3, v4, v4OverV3: v4.MiBps / v3.MiBps };
}
