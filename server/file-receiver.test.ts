/**
 * FileReceiver's memory over a connection's life: a connection lives as long as its peer keeps
 * talking, so nothing it keeps per upload may outlive that upload.
 */
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { encodeSendFilePrefix, RequestDecoder, type RequestEvent } from '../lib/protocol';
import type { Database } from './database';
import { FileReceiver } from './file-receiver';
import type { TempFile } from './file-storage';
import type { FileStore } from './file-store';
import { Session } from './session';
import type { Reservation, UploadQuota } from './upload-quota';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const tempFile = (): TempFile => ({
  path: '/nowhere',
  write: () => {},
  needsDrain: false,
  drained: async () => {},
  error: null,
  finish: async () => {},
  abort: async () => {},
});

const reservation: Reservation = { cover: () => undefined, release: () => {} };

function receiver(): { r: FileReceiver; clientId: Uint8Array } {
  const clientId = randomBytes(16);
  const session = new Session('127.0.0.1');
  session.key = { aesKey: randomBytes(32), clientId };
  const r = new FileReceiver({
    db: { touch: async () => {} } as unknown as Database,
    files: { createTemp: tempFile } as unknown as FileStore,
    session,
    quota: { reserve: async () => reservation } as unknown as UploadQuota,
    limits: { maxFileSize: 2 ** 32, maxContentPerPacket: 1 << 20 },
  });
  return { r, clientId };
}

/** Feeds decoder events to the receiver as Connection does, awaiting each step. */
async function feed(r: FileReceiver, events: RequestEvent[]): Promise<void> {
  for (const ev of events) {
    if (ev.type === 'file-start') await r.start(ev.header, ev.fixed, ev.contentLength);
    else if (ev.type === 'file-content') await r.content(ev.chunk);
    else if (ev.type === 'file-end') await r.end();
  }
}

describe('FileReceiver', () => {
  it('keeps nothing per failed upload once its temp file is gone (one connection, 40,000 uploads cut after their first packet)', async () => {
    const { r, clientId } = receiver();
    const packet = (n: number) =>
      Buffer.concat([
        encodeSendFilePrefix(
          { clientId, contentSize: 32, origSize: 20, packetNumber: n, totalPackets: 2, fileName: 'a.txt' },
          16,
        ),
        Buffer.alloc(16),
      ]);
    // Packet 1 of 2 starts a file, packet 3 fails it (1607); the next packet 1 starts it anew.
    const cycle = Buffer.concat([packet(1), packet(3)]);
    const decoder = new RequestDecoder({ maxPayload: 1 << 20 });
    const run = async (n: number) => {
      for (let i = 0; i < n; i++) await feed(r, decoder.push(cycle));
      await r.settled();
    };
    await run(2_000);
    gc();
    const before = process.memoryUsage().heapUsed;
    const cycles = 40_000;
    await run(cycles);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    console.log(`heap after ${cycles} failed uploads: ${(grown / cycles).toFixed(1)} bytes each`);
    // Each used to keep its cleanup's promise for the connection's life (about 60 bytes).
    expect(grown / cycles).toBeLessThan(10);
  });
});
