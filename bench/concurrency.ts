/**
 * Many clients at once: `clients` in-process lib/client sessions (the CLI's TCP transport
 * and Node AES) upload `sizeMiB` each to one server process, all started together after
 * every client has registered. Meanwhile a separate probe process keeps registering new
 * clients and timing it, which shows whether the server stays responsive.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKeyPair, nodeEncryptorFactory } from '../cli/node-crypto';
import { TcpTransport } from '../cli/tcp-transport';
import { ClientSession, establishIdentity } from '../lib/client';
import { cpuSeconds, procMiB, ROOT, start, startServer, waitFor } from './procs';
import { syntheticFile } from './synthetic-file';

const MiB = 1024 * 1024;

export interface ConcurrencyRun {
  clients: number;
  sizeMiB: number;
  verified: number;
  failed: number;
  errors: string[];
  aggregateMiBps: number;
  wallSeconds: number;
  p50Seconds: number;
  p99Seconds: number;
  maxSeconds: number;
  /** New-client register + key exchange, before the load (ms, median of a few). */
  probeIdleMs: number | null;
  /** The same while the uploads ran: median, p99 (or max when few) and count. */
  probeLoadedMedianMs: number | null;
  probeLoadedMaxMs: number | null;
  probeLoadedCount: number;
  probeErrors: number;
  /** Every probe during the load: seconds since the uploads started (at its end) and its ms. */
  probeTimeline: { atSeconds: number; ms: number | null; error?: string }[];
  serverPeakRssMiB: number | null;
  serverCpuSeconds: number | null;
  /** Only with SFT_BENCH_SERVER_FLAGS="--import ./bench/loop-lag.mjs": worst loop delay per second during the load. */
  serverLoopLag?: { atSeconds: number; maxMs: number }[];
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export async function concurrency(work: string, clients: number, sizeMiB: number): Promise<ConcurrencyRun> {
  const server = await startServer(join(work, `conc-data-${Date.now()}`), [
    '--max-connections',
    String(clients + 16),
    // Every client comes from 127.0.0.1: per-source caps as large as the total.
    '--max-per-source',
    String(clients + 16),
    '--max-startups-per-source',
    String(clients + 16),
  ]);
  const loader = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
  const probe = start(process.execPath, [
    '--import',
    loader,
    join(ROOT, 'bench/probe.ts'),
    String(server.port),
  ]);
  const sessions: ClientSession[] = [];
  let result!: ConcurrencyRun;
  let serverExit: number | string | null = null;
  // Every probe with the (wall clock) time it ended, stamped by the probe itself: this
  // process's event loop is busy during the load, so arrival times would be late.
  const probes: { end: number; ms?: number; error?: string }[] = [];
  let rest = '';
  probe.proc.stdout!.on('data', (d: Buffer) => {
    const parts = (rest + d.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) {
      try {
        const p = JSON.parse(line) as { end?: number; ms?: number; error?: string };
        if (typeof p.end === 'number') probes.push({ ...p, end: p.end });
      } catch {
        // not a probe line
      }
    }
  });
  try {
    await waitFor(probe, /"ready":true/, 'The probe');
    // Let the probe measure an idle server first.
    await new Promise((r) => setTimeout(r, 1500));

    const tReg = Date.now();
    // Register everyone first (RSA key generation is client-side work, not what we time).
    const size = sizeMiB * MiB;
    const ready: { session: ClientSession; aesKey: Uint8Array; name: string }[] = [];
    const BATCH = 10;
    for (let i = 0; i < clients; i += BATCH) {
      await Promise.all(
        Array.from({ length: Math.min(BATCH, clients - i) }, async () => {
          const transport = await TcpTransport.connect('127.0.0.1', server.port);
          const session = new ClientSession({ transport, encryptorFactory: nodeEncryptorFactory });
          sessions.push(session);
          const name = `bench-conc-${randomBytes(5).toString('hex')}`;
          const { aesKey } = await establishIdentity(session, { name, createKeyPair });
          ready.push({ session, aesKey, name });
        }),
      );
    }
    const chunk = randomBytes(MiB);
    const cpu0 = cpuSeconds(server.pid);
    const t0 = performance.now();
    const wall0 = Date.now();
    const times: number[] = [];
    const errors: string[] = [];
    await Promise.all(
      ready.map(async ({ session, aesKey, name }) => {
        const s0 = performance.now();
        try {
          const r = await session.sendFile(syntheticFile(`${name}.bin`, size, chunk), aesKey);
          if (!r.verified) throw new Error(`${name}: not verified`);
          times.push((performance.now() - s0) / 1000);
        } catch (e) {
          errors.push(`${name}: ${(e as Error).message}`);
        }
      }),
    );
    const wallSeconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuSeconds(server.pid);
    const wall1 = Date.now();
    // Let the probe report what it finished just before the end of the load.
    await new Promise((r) => setTimeout(r, 300));
    const idle = probes.flatMap((p) => (p.end < tReg && p.ms !== undefined ? [p.ms] : []));
    const loaded = probes.filter((p) => p.end > wall0 && p.end <= wall1);
    const loadedMs = loaded.flatMap((p) => (p.ms === undefined ? [] : [p.ms])).sort((a, b) => a - b);
    times.sort((a, b) => a - b);
    idle.sort((a, b) => a - b);
    result = {
      clients,
      sizeMiB,
      verified: times.length,
      failed: errors.length,
      errors: errors.slice(0, 5),
      aggregateMiBps: (times.length * sizeMiB) / wallSeconds,
      wallSeconds,
      p50Seconds: quantile(times, 0.5),
      p99Seconds: quantile(times, 0.99),
      maxSeconds: times.at(-1) ?? Number.NaN,
      probeIdleMs: idle.length ? quantile(idle, 0.5) : null,
      probeLoadedMedianMs: loadedMs.length ? quantile(loadedMs, 0.5) : null,
      probeLoadedMaxMs: loadedMs.length ? loadedMs.at(-1)! : null,
      probeLoadedCount: loadedMs.length,
      probeErrors: loaded.filter((p) => p.error !== undefined).length,
      probeTimeline: loaded.map((p) => ({
        atSeconds: (p.end - wall0) / 1000,
        ms: p.ms ?? null,
        error: p.error,
      })),
      serverPeakRssMiB: procMiB(server.pid),
      serverCpuSeconds: cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null,
    };
    const lag = [...server.output().matchAll(/loop-lag (\d+) max (\d+) ms/g)]
      .map((m) => ({ atSeconds: (Number(m[1]) - wall0) / 1000, maxMs: Number(m[2]) }))
      .filter((l) => l.atSeconds >= 0 && l.atSeconds <= (wall1 - wall0) / 1000 + 1);
    if (lag.length > 0) result.serverLoopLag = lag;
  } finally {
    for (const s of sessions) s.close();
    await probe.stop();
    serverExit = await server.stop();
  }
  if (serverExit !== 0)
    throw new Error(`The file server did not exit cleanly (${serverExit}):\n${server.output()}`);
  return result;
}
