/**
 * The record path with reused frame bodies (recordBodies) and direct writes: many records with
 * distinct contents, decoded from the wire while earlier ones are still being opened and
 * written, must be stored byte for byte (SHA-256 of the file against the plaintext's).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_TO_SERVER_FRAMES, FrameType, RECORD_SIZE, TAG_SIZE } from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame } from '../../lib/protocol/v4/frames';
import { V4Error } from '../../lib/v4/errors';
import { StreamSealer } from '../../lib/v4/stream';
import { nodeRecordAead } from '../../platform/node-gcm';
import { tempDir } from '../../test/support/server-helpers';
import { type PartialUpload, PartialUploads } from './partial-uploads';
import { stopRecordThread } from './record-thread';
import { RecordWriter, recordBodies, StorageFailure } from './record-writer';

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function setUp(size: number) {
  const d = tempDir('sft-records-');
  dirs.push(d);
  const partials = new PartialUploads(d.path, 3_600_000);
  await partials.init();
  const stream = { fileKey: randomBytes(32), binding: randomBytes(32), uploadId: randomBytes(16), size };
  const request = {
    clientKey: randomBytes(32),
    clientId: randomBytes(16),
    uploadId: stream.uploadId,
    fileKey: stream.fileKey,
    size,
    name: 'f.bin',
    resume: false,
  };
  const up = await partials.open(request);
  if ('code' in up) throw new Error(up.reason);
  /** The same upload opened again for a resume (after detach()). */
  const reopen = async () => {
    const again = await partials.open({ ...request, resume: true });
    if ('code' in again) throw new Error(again.reason);
    return again as PartialUpload;
  };
  /** The bytes of the upload's data file now. */
  const data = () => {
    const files = readdirSync(d.path, { recursive: true, encoding: 'utf8' });
    return readFileSync(join(d.path, files.find((f) => f.endsWith('.data'))!));
  };
  return { upload: up as PartialUpload, stream, reopen, data };
}

/** The Chunk frames of `plain`, all on one wire. */
async function wire(stream: ConstructorParameters<typeof StreamSealer>[0], plain: Buffer): Promise<Buffer> {
  const sealer = new StreamSealer({ ...stream, aead: nodeRecordAead });
  const frames: Uint8Array[] = [];
  for (let i = 0; i < sealer.recordTotal; i++)
    frames.push(
      encodeFrame(
        FrameType.Chunk,
        await sealer.seal(i, plain.subarray(i * RECORD_SIZE, Math.min(plain.length, (i + 1) * RECORD_SIZE))),
      ),
    );
  return Buffer.concat(frames);
}

describe('RecordWriter with reused frame bodies', () => {
  it.each([
    ['one frame', 6 + RECORD_SIZE + TAG_SIZE],
    ['100,000 bytes (frames split anywhere)', 100_000],
  ])(
    'stores 70 distinct records byte for byte while later frames are decoded into reused bodies: pieces of %s',
    async (_, piece) => {
      const size = 70 * RECORD_SIZE - 777; // a short last record
      const plain = randomBytes(size);
      const { upload, stream } = await setUp(size);
      const writer = new RecordWriter(upload, { ...stream, start: 0 });
      const bytes = await wire(stream, plain);
      const decoder = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, allocate: recordBodies.allocate });
      // The wire in pieces (whole frames, or split anywhere as TCP delivers it); each push() is
      // started and, before it is awaited, the next piece is decoded: it allocates bodies while
      // the one just handed over is being opened. A body given back before the decipher read it
      // would be overwritten by the next frame and the record would not verify or be stored wrong.
      const pending: Uint8Array[] = [];
      let inFlight: Promise<void> = Promise.resolve();
      for (let at = 0; at < bytes.length; at += piece) {
        for (const f of decoder.push(bytes.subarray(at, at + piece))) pending.push(f.body);
        await inFlight;
        const body = pending.shift();
        if (body) inFlight = writer.push(body);
      }
      await inFlight;
      while (pending.length > 0) await writer.push(pending.shift()!);
      expect(writer.complete).toBe(true);
      await writer.drain();
      const done = await upload.finish(await writer.digest());
      expect(done.size).toBe(size);
      expect(Buffer.from(done.sha256).toString('hex')).toBe(sha(plain));
      expect(sha(readFileSync(done.path))).toBe(sha(plain));
      expect(recordBodies.free).toBeGreaterThan(0); // bodies were given back and reused
    },
  );

  it('gives back only its own bodies, each once: a caller-owned buffer is never reused', () => {
    const mine = Buffer.alloc(RECORD_SIZE + TAG_SIZE, 7);
    const before = recordBodies.free;
    recordBodies.release(mine);
    expect(recordBodies.free).toBe(before);
    const lent = recordBodies.allocate(RECORD_SIZE + TAG_SIZE);
    const after = recordBodies.free;
    recordBodies.release(lent);
    recordBodies.release(lent);
    expect(recordBodies.free).toBe(after + 1);
    const a = recordBodies.allocate(RECORD_SIZE + TAG_SIZE);
    const b = recordBodies.allocate(RECORD_SIZE + TAG_SIZE);
    expect(a).not.toBe(b);
    expect(recordBodies.allocate(100).length).toBe(100);
  });

  it('adopts a body back from the record thread only when it is a whole buffer of its size', () => {
    const before = recordBodies.free;
    recordBodies.adopt(Buffer.alloc(RECORD_SIZE + TAG_SIZE).subarray(0, RECORD_SIZE));
    expect(recordBodies.free).toBe(before + 1); // the plaintext's view: its whole buffer is taken
    recordBodies.adopt(Buffer.alloc(RECORD_SIZE));
    recordBodies.adopt(
      new Uint8Array(new ArrayBuffer(RECORD_SIZE + TAG_SIZE + 1), 0, RECORD_SIZE + TAG_SIZE),
    );
    expect(recordBodies.free).toBe(before + 1);
    expect(recordBodies.allocate(RECORD_SIZE + TAG_SIZE).length).toBe(RECORD_SIZE + TAG_SIZE);
  });
});

/** Pushes every Chunk body of `bytes` (whole frames) without waiting between them more than push() asks. */
async function pushAll(writer: RecordWriter, bytes: Buffer): Promise<void> {
  const decoder = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, allocate: recordBodies.allocate });
  for (const f of decoder.push(bytes)) await writer.push(f.body);
}

describe('RecordWriter on the record thread', () => {
  it('a tampered record stops the upload there: nothing of it or after it is written', async () => {
    const size = 20 * RECORD_SIZE;
    const plain = randomBytes(size);
    const { upload, stream, data } = await setUp(size);
    const writer = new RecordWriter(upload, { ...stream, start: 0 });
    const bytes = await wire(stream, plain);
    const frame = 6 + RECORD_SIZE + TAG_SIZE;
    bytes[10 * frame + 6 + 1000]! ^= 1; // record 10's ciphertext
    const err = await pushAll(writer, bytes).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(V4Error);
    expect((err as V4Error).code).toBe('V4_ERR_STREAM');
    expect((err as Error).message).toMatch(/Record 10 did not verify/);
    expect(writer.complete).toBe(false);
    await expect(writer.push(Buffer.alloc(frame - 6))).rejects.toThrow(/did not verify/);
    await writer.drain().catch(() => {});
    await writer.discard();
    const kept = data();
    expect(kept.length).toBeLessThanOrEqual(10 * RECORD_SIZE);
    expect(kept.equals(plain.subarray(0, kept.length))).toBe(true);
    await upload.remove();
  });

  it('a record too small for a buffer of its own (Node pools those) is stored, and the pool still works', async () => {
    const plain = randomBytes(100);
    const { upload, stream } = await setUp(plain.length);
    const writer = new RecordWriter(upload, { ...stream, start: 0 });
    await pushAll(writer, await wire(stream, plain));
    expect(writer.complete).toBe(true);
    await writer.drain();
    const done = await upload.finish(await writer.digest());
    expect(readFileSync(done.path).equals(plain)).toBe(true);
    expect(Buffer.from(done.sha256).toString('hex')).toBe(sha(plain));
    // Had the pool's slab been transferred, small Buffers would now be detached (length 0).
    const small = Buffer.from('still here');
    expect(small.toString()).toBe('still here');
  });

  it('the thread stopping mid-upload fails it as storage (Error 14); the next upload gets a new thread', async () => {
    const size = 40 * RECORD_SIZE;
    const { upload, stream } = await setUp(size);
    const writer = new RecordWriter(upload, { ...stream, start: 0 });
    const bytes = await wire(stream, randomBytes(size));
    const decoder = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, allocate: recordBodies.allocate });
    const frames = decoder.push(bytes);
    for (const f of frames.slice(0, 8)) await writer.push(f.body);
    await stopRecordThread();
    const err = await (async () => {
      for (const f of frames.slice(8)) await writer.push(f.body);
      await writer.drain();
    })().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StorageFailure);
    expect((err as Error).message).toMatch(/record thread stopped/);
    await writer.discard();
    await upload.remove();

    const plain = randomBytes(3 * RECORD_SIZE + 5);
    const next = await setUp(plain.length);
    const again = new RecordWriter(next.upload, { ...next.stream, start: 0 });
    await pushAll(again, await wire(next.stream, plain));
    await again.drain();
    const done = await next.upload.finish(await again.digest());
    expect(readFileSync(done.path).equals(plain)).toBe(true);
  });

  it('a writer from a resume point hands no hash over: the file is hashed whole at the end', async () => {
    const size = 20 * RECORD_SIZE;
    const plain = randomBytes(size);
    const { upload, stream, reopen } = await setUp(size);
    const bytes = await wire(stream, plain);
    const frame = 6 + RECORD_SIZE + TAG_SIZE;
    const first = new RecordWriter(upload, { ...stream, start: 0 });
    await pushAll(first, bytes.subarray(0, 16 * frame));
    await first.drain();
    await first.discard();
    await upload.detach();
    const resumed = await reopen();
    expect(resumed.next).toBe(16);
    const second = new RecordWriter(resumed, { ...stream, start: 16 });
    await pushAll(second, bytes.subarray(16 * frame));
    await second.drain();
    expect(await second.digest()).toBeNull();
    const done = await resumed.finish(null);
    expect(Buffer.from(done.sha256).toString('hex')).toBe(sha(plain));
    expect(sha(readFileSync(done.path))).toBe(sha(plain));
  });
});
