/**
 * KNOWN OPEN (it.fails): an upload reserves its whole declared size against the shared
 * limits (the free-disk reserve, --max-total-bytes) from UploadStart until it is stored or
 * dropped, and the declared size costs the sender nothing. A sender that keeps just above
 * --min-upload-rate holds the reservation for as long as the file would take: 64 GiB at
 * 16 KiB/s is 49 days, 32 connections per source. Here: 250 MiB declared at about 20 KiB/s
 * against a disk with 300 MiB above the reserve, and an innocent 100 MiB upload is refused
 * with Error 14 for as long as it lasts. The test asserts the innocent upload is served, so
 * it fails today; a fix (reserving the disk as records arrive, or a per-client share of the
 * shared room) turns it green: then drop `.fails`.
 * Not in the suite: its room is the real disk's free space minus 300 MiB, which the suite's
 * other tests move by gigabytes while it runs (it passed by chance in one such run). By hand:
 * SFT_KNOWN_OPEN=1 npx vitest run test/hostile/v4-reservation-hold.test.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MiB, type ServerProcess, startServerProcess, tempDir } from '../support/hostile';
import { connectV4, newIdentity, refusedCode, zeroSource } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

let srv: ServerProcess;
let work: { path: string; remove(): void };

beforeAll(async () => {
  work = tempDir('sft-hold-');
  const data = join(work.path, 'data');
  mkdirSync(data);
  const s = statfsSync(data);
  const reserve = s.bavail * s.bsize - 300 * MiB;
  srv = await startServerProcess(['--disk-reserve', String(reserve), '--upload-rate-grace', '1'], data);
});

afterAll(async () => {
  await srv?.dispose();
  work?.remove();
});

const knownOpen = process.env.SFT_KNOWN_OPEN === '1' ? it.fails : it.skip;

knownOpen(
  'a reservation held at just above --min-upload-rate does not keep an innocent upload out',
  async () => {
    const proxy = await startV4Proxy({ targetPort: srv.port });
    const attacker = await connectV4(proxy.port, await newIdentity(), () => {}, 'holder');
    let cut = false;
    void attacker
      .upload(zeroSource('hold.bin', 250 * MiB), {
        uploadId: new Uint8Array(randomBytes(16)),
        onStarted: () => {
          // About 20 KiB/s from now on, above the 16 KiB/s floor.
          proxy.opts.trickleBytes = 2048;
          proxy.opts.trickleMs = 100;
        },
      })
      .catch(() => {
        cut = true;
      });
    await new Promise((r) => setTimeout(r, 3000));
    const innocent = await connectV4(srv.port, await newIdentity(), () => {}, 'innocent');
    const code = await refusedCode(innocent.upload(zeroSource('innocent.bin', 100 * MiB), {}));
    console.log(
      `after 3 s of a 250 MiB upload at 20 KiB/s: holder cut ${cut}; innocent 100 MiB upload ${code ?? 'stored'}`,
    );
    await innocent.close().catch(() => {});
    await proxy.close();
    expect(code).toBeUndefined();
  },
  30_000,
);
