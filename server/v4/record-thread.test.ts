/**
 * The record thread itself (record-thread.ts): records opened and hashed there match
 * node:crypto on this thread, a bad tag is refused and ends its stream, and the thread holds
 * the process open only while an answer is awaited (a server that has closed everything exits).
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TSX_LOADER } from '../../test/support/processes';
import { RecordStream, startRecordThread } from './record-thread';

function seal(key: Buffer, nonce: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('aes-256-gcm', key, nonce);
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([body, c.getAuthTag()]);
}

describe('record thread', () => {
  it('opens records in order into their own buffers and hashes them', async () => {
    const key = randomBytes(32);
    const plains = [randomBytes(256 * 1024), randomBytes(1000), randomBytes(3)];
    const stream = new RecordStream(key, true);
    const opened = await Promise.all(
      plains.map((p, i) => {
        const nonce = Buffer.alloc(12, i);
        const sealed = seal(key, nonce, p);
        return stream.open(nonce, sealed).then((r) => ({ ...r, sent: sealed }));
      }),
    );
    opened.forEach(({ plain, sealed, sent }, i) => {
      expect(plain.equals(plains[i]!)).toBe(true);
      // The plaintext comes in a buffer of its own, the sealed one comes back whole.
      expect(plain.byteOffset).toBe(0);
      expect(plain.buffer.byteLength).toBe(plains[i]!.length);
      expect(sealed.length).toBe(plains[i]!.length + 16);
      // A buffer of its own went to the thread (detached here); a small one shares Node's
      // pool slab, so a copy went and the original is untouched.
      expect(sent.byteLength).toBe(i === 0 ? 0 : plains[i]!.length + 16);
    });
    const digest = await stream.digest();
    expect(Buffer.from(digest!).equals(createHash('sha256').update(Buffer.concat(plains)).digest())).toBe(
      true,
    );
  });

  it('refuses a record whose tag does not verify, and nothing after it on that stream', async () => {
    const key = randomBytes(32);
    const stream = new RecordStream(key, true);
    const nonce = Buffer.alloc(12, 1);
    const bad = seal(key, nonce, randomBytes(5000));
    bad[10]! ^= 1;
    await expect(stream.open(nonce, bad)).rejects.toThrow(/did not verify/);
    await expect(stream.open(nonce, seal(key, nonce, randomBytes(10)))).rejects.toThrow(/not open/);
    expect(await stream.digest()).toBeNull();
  });

  it('starts one thread ahead of the first stream, and the streams use it', async () => {
    const id = startRecordThread();
    expect(startRecordThread()).toBe(id);
    const key = randomBytes(32);
    const stream = new RecordStream(key, false);
    const nonce = Buffer.alloc(12, 7);
    const { plain } = await stream.open(nonce, seal(key, nonce, Buffer.from('ahead')));
    expect(plain.toString()).toBe('ahead');
    expect(startRecordThread()).toBe(id);
    stream.end();
  });

  it('keeps the process alive only while an answer is awaited', () => {
    const script = `
      import { RecordStream, startRecordThread } from ${JSON.stringify(new URL('./record-thread.ts', import.meta.url).href)};
      const s = new RecordStream(new Uint8Array(32), true);
      const d = await s.digest();
      console.log(d.length);
      new RecordStream(new Uint8Array(32), false); // idle stream: must not hold the process
      startRecordThread(); // nor a thread started ahead
    `;
    const r = spawnSync(process.execPath, ['--import', TSX_LOADER, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('32');
  });
});
