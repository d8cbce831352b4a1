/**
 * Physical limits measured in the same run as the uploads, so ratios hold on a noisy
 * machine: Node AES-256-CBC encrypt/decrypt on one core, loopback TCP, our JS cksum.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { type AddressInfo, connect, createServer } from 'node:net';
import { Cksum } from '../lib/crypto';

const MiB = 1024 * 1024;
const ZERO_IV = Buffer.alloc(16);

export function mibPerSec(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

/** Runs `fn` over `total` bytes in `chunk`-sized calls and returns MiB/s. */
function timed(total: number, chunk: Buffer, fn: (c: Buffer) => void): number {
  const start = performance.now();
  for (let done = 0; done < total; done += chunk.length) fn(chunk);
  return mibPerSec(total, performance.now() - start);
}

export function nodeAesEncrypt(total: number): number {
  const cipher = createCipheriv('aes-256-cbc', randomBytes(32), ZERO_IV);
  const chunk = randomBytes(MiB);
  const rate = timed(total, chunk, (c) => cipher.update(c));
  cipher.final();
  return rate;
}

export function nodeAesDecrypt(total: number): number {
  const key = randomBytes(32);
  const chunk = createCipheriv('aes-256-cbc', key, ZERO_IV).update(randomBytes(MiB));
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

/** Loopback TCP: one socket writes `total` bytes in 1 MiB writes, the other discards them. */
export async function loopbackTcp(total: number): Promise<number> {
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
  const start = performance.now();
  for (let sent = 0; sent < total; sent += chunk.length) {
    if (!sock.write(chunk)) await new Promise<void>((r) => sock.once('drain', () => r()));
  }
  await done;
  const rate = mibPerSec(total, performance.now() - start);
  sock.destroy();
  server.close();
  return rate;
}
