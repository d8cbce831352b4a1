import { createCipheriv, randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { WorkerAesPool } from './aes-worker';

const pool = new WorkerAesPool();
afterAll(() => pool.close());

function oneShot(key: Uint8Array, data: Uint8Array): Buffer {
  const c = createCipheriv('aes-256-cbc', key, Buffer.alloc(16));
  return Buffer.concat([c.update(data), c.final()]);
}

async function encryptInWorker(key: Uint8Array, chunks: Uint8Array[]): Promise<Buffer> {
  const enc = await pool.factory(key);
  // As the session does: several updates in flight, awaited in order.
  const pending = chunks.map((c) => enc.update(c));
  const out = await Promise.all(pending);
  out.push(await enc.final());
  return Buffer.concat(out);
}

describe('WorkerAesPool', () => {
  it('produces the one-shot ciphertext for owned and shared chunks', async () => {
    const key = randomBytes(32);
    const data = randomBytes(3 * 1024 * 1024 + 37);
    const expected = oneShot(key, data);
    // Owned chunks (transferred) ...
    const owned = [0, 1024 * 1024, 2 * 1024 * 1024, 3 * 1024 * 1024].map(
      (at) => new Uint8Array(data.subarray(at, at + 1024 * 1024)),
    );
    expect((await encryptInWorker(key, owned)).equals(expected)).toBe(true);
    expect(owned[0]!.byteLength).toBe(0); // transferred, not copied
    // ... and views into one buffer (copied, the caller's bytes stay intact).
    const shared = new Uint8Array(data);
    const views = [shared.subarray(0, 5), shared.subarray(5, 2_000_000), shared.subarray(2_000_000)];
    expect((await encryptInWorker(key, views)).equals(expected)).toBe(true);
    expect(Buffer.from(shared).equals(data)).toBe(true);
  });

  it('starts clean for each file, even when the previous one was abandoned', async () => {
    const key = randomBytes(32);
    const abandoned = await pool.factory(key);
    const late = Promise.resolve(abandoned.update(new Uint8Array(randomBytes(1024 * 1024)))).then(
      () => 'resolved',
      () => 'rejected',
    );
    const data = randomBytes(100_000);
    expect((await encryptInWorker(key, [new Uint8Array(data)])).equals(oneShot(key, data))).toBe(true);
    expect(await late).toBe('rejected');
  });

  it('encrypts the empty file to one padding block', async () => {
    const key = randomBytes(32);
    expect((await encryptInWorker(key, [])).equals(oneShot(key, new Uint8Array(0)))).toBe(true);
  });
});
