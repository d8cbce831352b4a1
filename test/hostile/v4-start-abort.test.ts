/**
 * UploadStart -> UploadAbort, again and again, on a few connections of one client. Each new
 * upload used to write its state file with fsync and then sync the folder before UploadReady,
 * so every cycle cost the disk two flushes, and the disk is shared with every innocent
 * upload's durable points. A state file that vouches for no record need not be durable (a
 * crash before the first durable point leaves nothing to resume: the client's resume gets
 * Error 11 and starts again, as it would from record 0): it is now written without a flush,
 * and the folder is synced at the upload's first durable point instead (which also makes the
 * data file's name durable, which nothing did before). Measured here: cycles per second,
 * the server's CPU and the disk writes (/proc/PID/io) per cycle, and an innocent client's
 * upload time during the flood.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cpuSeconds, MiB, type ServerProcess, startServerProcess, writeBytes } from '../support/hostile';
import { connectV4, newIdentity, zeroSource } from '../support/v4-client';

const CONNECTIONS = 8;
const FLOOD_MS = 3000;

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess(['--reconnect-per-minute', '1000']);
});

afterAll(async () => {
  await srv?.dispose();
});

async function innocentUploadMs(name: string): Promise<number> {
  const s = await connectV4(srv.port, await newIdentity(), () => {}, 'innocent');
  const t = performance.now();
  await s.upload(zeroSource(name, 16 * MiB), {});
  const ms = performance.now() - t;
  await s.close();
  return ms;
}

it(`UploadStart/UploadAbort cycles on ${CONNECTIONS} connections cost no flush each`, async () => {
  const quiet = await innocentUploadMs('quiet.bin');
  const me = await newIdentity();
  const sessions = await Promise.all(Array.from({ length: CONNECTIONS }, () => connectV4(srv.port, me)));
  const cancelled = AbortSignal.abort();
  let cycles = 0;
  let stop = false;
  const log0 = srv.output().length;
  const cpu0 = cpuSeconds(srv.pid);
  const io0 = writeBytes(srv.pid);
  const t0 = performance.now();
  const floods = sessions.map(async (s) => {
    while (!stop) {
      // Cancelled before its first record: UploadStart, UploadReady, UploadAbort, UploadAborted.
      await s.upload(zeroSource('cycle.bin', MiB), { signal: cancelled }).catch(() => {});
      if (!s.usable) throw new Error('the connection did not survive an abort');
      cycles++;
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const during = await innocentUploadMs('during.bin');
  await new Promise((r) => setTimeout(r, Math.max(0, FLOOD_MS - (performance.now() - t0))));
  stop = true;
  await Promise.all(floods);
  const ms = performance.now() - t0;
  const cpu = cpuSeconds(srv.pid) - cpu0;
  const written = writeBytes(srv.pid) - io0;
  for (const s of sessions) await s.close();
  await new Promise((r) => setTimeout(r, 300));
  const logged = srv.output().slice(log0);
  const lines = logged.split('\n').filter((l) => /v4-upload-(start|aborted)/.test(l)).length;
  console.log(
    `${cycles} start/abort cycles in ${Math.round(ms)} ms on ${CONNECTIONS} connections (${Math.round((cycles * 1000) / ms)}/s): ` +
      `server CPU ${((cpu * 1e6) / cycles).toFixed(0)} µs and ${Math.round(written / cycles)} bytes written per cycle ` +
      `(the innocent's 16 MiB upload included); innocent 16 MiB upload ${Math.round(quiet)} ms quiet, ${Math.round(during)} ms during; ` +
      `log ${logged.length} bytes, ${lines} start/abort lines`,
  );
  expect(cycles).toBeGreaterThan(100);
  // The per-source log sampler (--log-rate, 10 a second per kind, burst 50) holds: two kinds
  // over about 3 s (the rest are counted in a log-suppressed line, written every 5 s at most).
  expect(lines).toBeLessThan(250);
}, 30_000);
