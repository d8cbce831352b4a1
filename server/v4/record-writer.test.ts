/**
 * The record path with reused frame bodies (recordBodies) and direct writes: many records with
 * distinct contents, decoded from the wire while earlier ones are still being opened and
 * written, must be stored byte for byte (SHA-256 of the file against the plaintext's).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_TO_SERVER_FRAMES, FrameType, RECORD_SIZE, TAG_SIZE } from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import { encodeFrame } from '../../lib/protocol/v4/frames';
import { StreamSealer } from '../../lib/v4/stream';
import { nodeRecordAead } from '../../platform/node-gcm';
import { tempDir } from '../../test/support/server-helpers';
import { type PartialUpload, PartialUploads } from './partial-uploads';
import { RecordWriter, recordBodies } from './record-writer';

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
  const up = await partials.open({
    clientKey: randomBytes(32),
    clientId: randomBytes(16),
    uploadId: stream.uploadId,
    fileKey: stream.fileKey,
    size,
    name: 'f.bin',
    resume: false,
  });
  if ('code' in up) throw new Error(up.reason);
  return { upload: up as PartialUpload, stream };
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
      const done = await upload.finish();
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
});
