import { createCipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cksum } from '../lib/crypto';
import { ciphertextSize, ZERO_IV } from '../lib/protocol';
import type { ServerError } from './errors';
import { LocalTempFile } from './local-storage';
import { Upload } from './upload';

const limits = { maxFileSize: 1 << 30, maxContentPerPacket: 1 << 20 };
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sft-upload-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function encrypt(key: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-cbc', key, ZERO_IV);
  return Buffer.concat([c.update(plain), c.final()]);
}

function packets(ct: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 0; o < ct.length; o += size) out.push(ct.subarray(o, o + size));
  return out;
}

describe('Upload', () => {
  it('decrypts packet by packet, CRCs the plaintext and writes it to the temp file', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(100_003);
    const parts = packets(encrypt(key, plain), 4096);
    const f = {
      contentSize: ciphertextSize(plain.length),
      origSize: plain.length,
      totalPackets: parts.length,
      fileName: 'x',
    };
    const tmp = join(dir, 't.part');
    const u = new Upload(
      { ...f, packetNumber: 1 },
      key,
      () => new LocalTempFile(tmp, { writeBuffer: 8192 }),
      limits,
    );
    let last = false;
    let sawDrain = false;
    for (const [i, p] of parts.entries()) {
      last = u.write({ ...f, packetNumber: i + 1 }, p);
      if (u.needsDrain) {
        sawDrain = true;
        await u.drained();
      }
    }
    expect(last).toBe(true);
    // The small buffer made backpressure kick in.
    expect(sawDrain).toBe(true);
    const r = await u.finish();
    expect(r.size).toBe(plain.length);
    expect(r.cksum).toBe(cksum(plain));
    expect(readFileSync(tmp).equals(plain)).toBe(true);
  });

  it('a wrong key fails the padding check on the last packet', async () => {
    const plain = randomBytes(1000);
    const ct = encrypt(randomBytes(32), plain);
    const f = {
      contentSize: ct.length,
      origSize: plain.length,
      packetNumber: 1,
      totalPackets: 1,
      fileName: 'x',
    };
    const tmp = join(dir, 't.part');
    const u = new Upload(f, randomBytes(32), () => new LocalTempFile(tmp), limits);
    let code: string | undefined;
    try {
      u.write(f, ct);
    } catch (e) {
      code = (e as ServerError).code;
    }
    expect(code).toBe('SERVER_ERR_UPLOAD_PADDING');
    await u.abort();
    expect(existsSync(tmp)).toBe(false);
  });

  it('a write failure surfaces as SERVER_ERR_UPLOAD_WRITE', async () => {
    const key = randomBytes(32);
    const plain = randomBytes(50);
    const ct = encrypt(key, plain);
    const f = {
      contentSize: ct.length,
      origSize: plain.length,
      packetNumber: 1,
      totalPackets: 1,
      fileName: 'x',
    };
    // The temp folder does not exist: opening fails.
    const u = new Upload(f, key, () => new LocalTempFile(join(dir, 'missing', 't.part')), limits);
    u.write(f, ct);
    await expect(u.finish()).rejects.toMatchObject({ code: 'SERVER_ERR_UPLOAD_WRITE' });
  });
});

describe('LocalTempFile', () => {
  it('stores odd-sized pieces byte for byte in 1 MiB writes, direct and not, several writes in flight', async () => {
    const plain = randomBytes(5 * 1024 * 1024 + 12_345);
    for (const direct of [true, false]) {
      const tmp = join(dir, `t-${direct}.part`);
      const t = new LocalTempFile(tmp, { direct, syncInterval: 2 * 1024 * 1024 });
      // Pieces of 65,537 bytes (not a multiple of anything), each a fresh copy as the decipher gives them.
      for (let o = 0; o < plain.length; o += 65_537) {
        t.write(Buffer.from(plain.subarray(o, o + 65_537)));
        if (t.needsDrain && o % (3 * 65_537) === 0) await t.drained();
      }
      await t.finish();
      expect(readFileSync(tmp).equals(plain)).toBe(true);
    }
  });

  it('a file abandoned in the middle leaves nothing behind', async () => {
    const tmp = join(dir, 't.part');
    const t = new LocalTempFile(tmp);
    t.write(randomBytes(3 * 1024 * 1024 + 5));
    await t.abort();
    expect(existsSync(tmp)).toBe(false);
    await expect(t.finish()).rejects.toMatchObject({ code: 'SERVER_ERR_UPLOAD_ABORTED' });
  });
});
