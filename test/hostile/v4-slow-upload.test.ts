/**
 * A v4 upload holds a reservation of its declared size against its client's and invite's
 * quotas for as long as it is open (the shared room only as its bytes arrive:
 * v4-reservation-hold.test.ts). A sender that trickles its records, one byte well within the
 * idle timeout, kept the connection and that reservation without end. v3 has a minimum
 * average rate per upload (`--min-upload-rate` after `--upload-rate-grace`); here v4 uploads
 * are held to it too: the trickler is cut (Error 17, its upload kept for a resume), the
 * reservation goes, and the same client's other upload, refused while it held, is then stored.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { PARTIAL_FOLDER } from '../../server/v4/partial-uploads';
import { fileRows, MiB, type ServerProcess, startServerProcess } from '../support/hostile';
import { connectV4, newIdentity, refusedCode, zeroSource } from '../support/v4-client';
import { startV4Proxy } from '../support/v4-proxy';

const GRACE_S = 2;

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([
    '--idle-timeout',
    '3',
    '--min-upload-rate',
    '64K',
    '--upload-rate-grace',
    String(GRACE_S),
    '--client-max-bytes',
    '100M',
  ]);
});

afterAll(async () => {
  await srv?.dispose();
});

it('a v4 upload trickled one byte at a time is cut after the grace, and its reservation released', async () => {
  const proxy = await startV4Proxy({ targetPort: srv.port });
  const key = await newIdentity();
  const attacker = await connectV4(proxy.port, key, () => {}, 'slow');
  const t0 = performance.now();
  let startedAt = 0;
  const slow = attacker.upload(zeroSource('hold.bin', 80 * MiB), {
    uploadId: new Uint8Array(randomBytes(16)),
    onStarted: () => {
      startedAt = performance.now();
      // From now on one byte every 200 ms reaches the server: never idle for 3 s.
      proxy.opts.trickleMs = 200;
    },
  });
  const ended = slow.then(
    () => 'stored',
    () => 'cut',
  );

  // While it holds 80 MiB of the client's 100 MiB, its other 30 MiB upload is refused.
  await new Promise((r) => setTimeout(r, 500));
  const innocent = await connectV4(srv.port, key, () => {}, 'slow');
  const file = zeroSource('innocent.bin', 30 * MiB);
  expect(await refusedCode(innocent.upload(file, {}))).toBe(V4ErrorCode.OverQuota);

  const outcome = await Promise.race([ended, new Promise((r) => setTimeout(() => r('still open'), 10_000))]);
  const heldMs = performance.now() - (startedAt || t0);
  console.log(
    `trickled v4 upload (one byte per 200 ms, grace ${GRACE_S} s): ${outcome} after ${Math.round(heldMs)} ms`,
  );
  expect(outcome).toBe('cut');
  expect(heldMs).toBeLessThan((GRACE_S + 3) * 1000);
  expect(srv.output()).toContain('upload too slow');
  // Cut, not dropped: its state is kept for a resume.
  expect(readdirSync(join(srv.data, PARTIAL_FOLDER)).some((n) => n.endsWith('.json'))).toBe(true);

  // The reservation went with it: the same upload is now taken and stored.
  const done = await innocent.upload(file, {});
  expect(done.size).toBe(30 * MiB);
  await innocent.close();
  expect(fileRows(srv.data).some((r) => r.FileName === 'innocent.bin')).toBe(true);
  await proxy.close();
}, 30_000);
