/**
 * The bench's sections, each measuring one thing and adding its rows, targets and JSON to the
 * run it is handed: 1 limits, 2 CLI and 3 browser (upload-sections.ts), 4 memory,
 * 5 concurrency, 6 bridge. `bench/main.ts` parses the flags and calls them in order.
 */
import { join } from 'node:path';
import { benchBridge } from './bridge';
import { browserLimits } from './browser-limits';
import { type ConcurrencyRun, concurrency } from './concurrency';
import {
  type Ceiling,
  clientCryptoPath,
  cliPathCeilings,
  diskWrite,
  diskWriteDirect,
  fileRead,
  jsCksum,
  loopbackTcp,
  nodeAesDecrypt,
  nodeAesEncrypt,
  nodeCryptoGcm,
  nodeSha256,
  nodeWebCryptoGcm,
} from './limits';
import { ProcGroup, startBridge, startServer } from './procs';
import { type BenchReport, fixed, pct } from './report';
import { type BrowserRuns, type CliRuns, PROTOCOLS, peakOf } from './runs';
import type { BrowserRun, CliRun } from './uploads';

const MiB = 1024 * 1024;
export const SECTIONS = ['limits', 'cli', 'browser', 'memory', 'concurrency', 'bridge'] as const;
export type Section = (typeof SECTIONS)[number];

const TARGET_RSS_GROWTH_MIB = 20;

export interface BenchOptions {
  /** Upload size for the CLI, browser and bridge paths. */
  size: number;
  /** The smaller size of the memory comparison. */
  smallSize: number;
  /** Bytes pushed through each physical limit, in MiB. */
  limitMiB: number;
  clients: number;
  clientMiB: number;
  /** Runs per protocol at the main size (alternating 3, 4, 3, 4 ...). */
  repeat: number;
  quick: boolean;
  only: ReadonlySet<Section>;
  /** The run's scratch folder. */
  work: string;
}

/** One run: its options, the report the sections add to, and the JSON written at the end. */
export interface BenchRun {
  opts: BenchOptions;
  report: BenchReport;
  result: Record<string, unknown>;
  log: (text: string) => void;
}

/** What the later sections judge against. */
export interface MeasuredLimits {
  aesEnc: number | undefined;
  cliCeiling: { v3: Ceiling; v4: Ceiling; v4OverV3: number } | undefined;
  webLimit: number | undefined;
  /** v4's counterpart: min(Chromium's GCM seal with 4 in flight, WS send of 1 MiB messages). */
  webLimitV4: number | undefined;
}

/** 1. Physical limits (Node and Chromium). */
export async function limitsSection(run: BenchRun): Promise<MeasuredLimits> {
  const { only, limitMiB, quick, work } = run.opts;
  const { report, result } = run;
  let aesEnc: number | undefined;
  let cliCeiling: MeasuredLimits['cliCeiling'];
  let webLimit: number | undefined;
  let webLimitV4: number | undefined;
  if (only.has('limits') || only.has('cli') || only.has('browser')) {
    const limits = await report.step('limits (Node)', async () => ({
      nodeAesEncryptMiBps: nodeAesEncrypt(limitMiB * MiB),
      // For reference: Node allocates a fresh output buffer per call, and smaller calls stay
      // in cache. The CLI in 64 KiB slices was no faster end to end (more calls per byte).
      nodeAesEncrypt64kMiBps: nodeAesEncrypt(limitMiB * MiB, 64 * 1024),
      nodeAesDecrypt64kMiBps: nodeAesDecrypt(limitMiB * MiB, 64 * 1024),
      nodeAesDecryptMiBps: nodeAesDecrypt(limitMiB * MiB),
      loopbackTcp: await loopbackTcp((quick ? 64 : 1024) * MiB),
      jsCksumMiBps: jsCksum(limitMiB * MiB),
      disk: diskWrite(work, limitMiB * MiB),
      diskDirect: await diskWriteDirect(work, limitMiB * MiB),
      fileRead: fileRead(work, limitMiB * MiB),
      // Protocol v4: AES-256-GCM per 256 KiB record, and the whole-file SHA-256.
      webCryptoGcmSeal: await nodeWebCryptoGcm(limitMiB * MiB, 'encrypt'),
      webCryptoGcmSeal4: await nodeWebCryptoGcm(limitMiB * MiB, 'encrypt', 4),
      webCryptoGcmOpen: await nodeWebCryptoGcm(limitMiB * MiB, 'decrypt'),
      webCryptoGcmOpen4: await nodeWebCryptoGcm(limitMiB * MiB, 'decrypt', 4),
      nodeCryptoGcmSeal: nodeCryptoGcm(limitMiB * MiB, 'encrypt'),
      nodeCryptoGcmOpen: nodeCryptoGcm(limitMiB * MiB, 'decrypt'),
      sha256MiBps: nodeSha256(limitMiB * MiB),
      clientCrypto: await clientCryptoPath(limitMiB * MiB),
    }));
    const browser =
      only.has('limits') || only.has('browser')
        ? await report.step('limits (Chromium)', () => browserLimits(limitMiB))
        : undefined;
    aesEnc = limits?.nodeAesEncryptMiBps;
    if (limits) cliCeiling = cliPathCeilings(limits);
    // WebSocket at the message size the app sends (1 MiB packets): the browser's best.
    if (browser) {
      webLimit = Math.min(browser.webCryptoAesCbc, browser.webSocketSend1m);
      // The page keeps several seals in flight (v4 has no chain between records).
      webLimitV4 = Math.min(browser.webCryptoGcmSeal4, browser.webSocketSend1m);
    }
    result.limits = { totalMiB: limitMiB, ...limits, chromium: browser };
    report.row(
      '1 limits',
      'Node AES-256-CBC encrypt (1 core, 1 MiB calls)',
      `${fixed(limits?.nodeAesEncryptMiBps)} MiB/s`,
      `${fixed(limits?.nodeAesEncrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    report.row(
      '1 limits',
      'Node AES-256-CBC decrypt (1 MiB calls)',
      `${fixed(limits?.nodeAesDecryptMiBps)} MiB/s`,
      `${fixed(limits?.nodeAesDecrypt64kMiBps)} MiB/s in 64 KiB calls`,
    );
    report.row(
      '1 limits',
      'loopback TCP (1 MiB writes)',
      `${fixed(limits?.loopbackTcp.MiBps)} MiB/s`,
      `${fixed(limits?.loopbackTcp.cpuSecondsPerGiB, 1)} CPU-s/GiB, both ends`,
    );
    const rc = (r: { MiBps: number; cpuSecondsPerGiB: number } | undefined) =>
      `${fixed(r?.MiBps)} MiB/s (${fixed(r?.cpuSecondsPerGiB, 2)} CPU-s/GiB)`;
    report.row(
      '1 limits',
      'Node WebCrypto AES-256-GCM seal, 256 KiB records: 1 / 4 in flight',
      `${rc(limits?.webCryptoGcmSeal)} / ${rc(limits?.webCryptoGcmSeal4)}`,
      'thread pool: several calls use both cores',
    );
    report.row(
      '1 limits',
      'Node WebCrypto AES-256-GCM open, 256 KiB records: 1 / 4 in flight',
      `${rc(limits?.webCryptoGcmOpen)} / ${rc(limits?.webCryptoGcmOpen4)}`,
    );
    report.row(
      '1 limits',
      'node:crypto AES-256-GCM seal / open, 256 KiB (main thread)',
      `${rc(limits?.nodeCryptoGcmSeal)} / ${rc(limits?.nodeCryptoGcmOpen)}`,
    );
    report.row('1 limits', 'node:crypto SHA-256, 256 KiB updates', `${fixed(limits?.sha256MiBps)} MiB/s`);
    report.row('1 limits', 'JS cksum (WebAssembly)', `${fixed(limits?.jsCksumMiBps)} MiB/s`);
    const cc = limits?.clientCrypto;
    report.row(
      '1 limits',
      "CLI's cryptography alone, 1 core: v3 (CBC + cksum) / v4 (GCM records + SHA-256)",
      `${fixed(cc?.v3)} / ${fixed(cc?.v4)} MiB/s`,
      cc ? `v4/v3 ${(cc.v4 / cc.v3).toFixed(2)}x: what v4 removes on the client` : '',
    );
    report.row(
      '1 limits',
      'disk write as the server: 1 MiB writes, O_DIRECT, fdatasync per 4 MiB',
      `${fixed(limits?.diskDirect.MiBps)} MiB/s`,
      limits
        ? `${fixed(limits.diskDirect.cpuSecondsPerGiB, 2)} CPU-s/GiB${limits.diskDirect.direct ? '' : ' (no O_DIRECT here: page cache)'}; through the page cache (fdatasync per 32 MiB) ${fixed(limits.disk.MiBps)} MiB/s, ${fixed(limits.disk.cpuSecondsPerGiB, 2)} CPU-s/GiB`
        : '',
    );
    const fr = limits?.fileRead;
    const span = (xs: number[] | undefined) => (xs ? `${fixed(xs[0], 2)}-${fixed(xs[1], 2)}` : '-');
    report.row(
      '1 limits',
      'file read from the page cache, 1 MiB preads: into a page-aligned buffer / one 16 bytes into a page',
      `${span(fr?.aligned)} / ${span(fr?.offset)} CPU-s/GiB`,
      'lowest-highest of 3 rounds; the CLI reads into aligned ones (platform/page-aligned.ts)',
    );
    report.row(
      '1 limits',
      'Chromium WebCrypto AES-CBC, 64 KiB / 512 KiB calls',
      `${fixed(browser?.webCryptoAesCbc)} / ${fixed(browser?.webCryptoAesCbc512k)} MiB/s`,
      'the app encrypts 512 KiB per call',
    );
    report.row(
      '1 limits',
      'Chromium WebCrypto AES-256-GCM seal, 256 KiB: 1 / 4 in flight',
      `${fixed(browser?.webCryptoGcmSeal)} / ${fixed(browser?.webCryptoGcmSeal4)} MiB/s`,
    );
    report.row(
      '1 limits',
      'Chromium WebCrypto AES-256-GCM open, 256 KiB: 1 / 4 in flight',
      `${fixed(browser?.webCryptoGcmOpen)} / ${fixed(browser?.webCryptoGcmOpen4)} MiB/s`,
    );
    report.row(
      '1 limits',
      'Chromium WebSocket send, 64 KiB / 1 MiB messages',
      `${fixed(browser?.webSocketSend)} / ${fixed(browser?.webSocketSend1m)} MiB/s`,
      'the app sends 1 MiB packets',
    );
  }
  return { aesEnc, cliCeiling, webLimit, webLimitV4 };
}

/** 4. Peak memory at two sizes: what must not grow with the file. */
export function memorySection(run: BenchRun, cliRuns: CliRuns, browserRuns: BrowserRuns): void {
  const { size, smallSize } = run.opts;
  const { report, result } = run;
  const growth = (a: number | null | undefined, b: number | null | undefined) =>
    typeof a === 'number' && typeof b === 'number' ? b - a : undefined;
  type Line = [string, number | undefined, number | undefined, boolean];
  const lines: Line[] = [];
  for (const p of PROTOCOLS) {
    const c = cliRuns[p];
    const b = browserRuns[p];
    const cli = (pick: (r: CliRun) => number | null | undefined) =>
      [peakOf(c[smallSize], pick), peakOf(c[size], pick)] as const;
    const web = (pick: (r: BrowserRun) => number | null | undefined) =>
      [peakOf(b[smallSize], pick), peakOf(b[size], pick)] as const;
    lines.push(
      [`v${p} server peak RSS (CLI upload)`, ...cli((r) => r.serverPeakRssMiB), true],
      [`v${p} CLI process peak RSS`, ...cli((r) => r.cliPeakRssMiB), false],
    );
    if (p === 4 && Object.values(b).flat().length === 0) continue; // no v4 in the page (or not run)
    lines.push(
      [`v${p} server peak RSS (browser upload)`, ...web((r) => r.serverPeakRssMiB), true],
      [`v${p} bridge peak RSS`, ...web((r) => r.bridgePeakRssMiB), true],
      [`v${p} page JS heap peak (main thread)`, ...web((r) => r.pageHeapPeakMiB), false],
      [`v${p} Chromium renderer peak RSS (page + worker)`, ...web((r) => r.rendererPeakRssMiB), false],
    );
  }
  const memory: Record<string, unknown> = {};
  for (const [label, a, b, isTarget] of lines) {
    const g = growth(a, b);
    report.row(
      '4 memory',
      `${label}: ${smallSize} -> ${size} MiB`,
      `${fixed(a)} -> ${fixed(b)} MiB`,
      `${g === undefined ? '-' : `${g >= 0 ? '+' : ''}${g.toFixed(1)} MiB`}${isTarget ? ` (target <= +${TARGET_RSS_GROWTH_MIB})` : ''}`,
    );
    memory[label] = { smallMiB: a, bigMiB: b, growthMiB: g };
    if (isTarget)
      report.target({
        target: `${label} growth <= ${TARGET_RSS_GROWTH_MIB} MiB`,
        value: g === undefined ? '-' : `${g.toFixed(1)} MiB`,
        pass: g === undefined ? null : g <= TARGET_RSS_GROWTH_MIB,
      });
  }
  result.memory = { smallSizeMiB: smallSize, bigSizeMiB: size, ...memory, cliRuns, browserRuns };
}

/** 5. Many clients at once, and how long a new one waits meanwhile. */
export async function concurrencySection(run: BenchRun): Promise<void> {
  const { clients, clientMiB, work } = run.opts;
  const { report, result } = run;
  const c: ConcurrencyRun | undefined = await report.step(
    `concurrency ${clients} x ${clientMiB} MiB`,
    async () => {
      const r = await concurrency(work, clients, clientMiB);
      if (r.failed > 0) throw new Error(`${r.failed} of ${clients} uploads failed: ${r.errors.join('; ')}`);
      return r;
    },
  );
  report.row(
    '5 concurrency',
    `${clients} clients x ${clientMiB} MiB at once`,
    `${c ? `${c.verified}/${clients}` : '-'} verified`,
    `aggregate ${fixed(c?.aggregateMiBps)} MiB/s, wall ${fixed(c?.wallSeconds, 1)} s`,
  );
  report.row(
    '5 concurrency',
    'time per file p50 / p99',
    `${fixed(c?.p50Seconds, 2)} / ${fixed(c?.p99Seconds, 2)} s`,
  );
  report.row(
    '5 concurrency',
    'new client register+key exchange: idle / loaded median / max',
    `${fixed(c?.probeIdleMs)} / ${fixed(c?.probeLoadedMedianMs)} / ${fixed(c?.probeLoadedMaxMs)} ms`,
    `${c?.probeLoadedCount ?? 0} probes during load, ${c?.probeErrors ?? 0} errors`,
  );
  report.row(
    '5 concurrency',
    'server peak RSS / CPU seconds during the load',
    `${fixed(c?.serverPeakRssMiB)} MiB / ${fixed(c?.serverCpuSeconds, 1)} s`,
  );
  result.concurrency = c;
}

/** 6. The same in-process upload direct and through the bridge. */
export async function bridgeSection(run: BenchRun): Promise<void> {
  const { size, work } = run.opts;
  const { report, result } = run;
  const b = await report.step(`bridge vs direct TCP ${size} MiB`, async () => {
    const group = new ProcGroup();
    let out!: Awaited<ReturnType<typeof benchBridge>> & { bridgeProcessBufferutil: string };
    let problems: string[] = [];
    try {
      const server = group.add('file server', await startServer(join(work, `bridge-data-${Date.now()}`)));
      const origin = 'http://127.0.0.1:3000';
      const bridge = group.add('bridge', await startBridge(server.port, [origin]));
      out = {
        ...(await benchBridge({
          sizeBytes: size * MiB,
          server: { host: '127.0.0.1', port: server.port },
          bridgeUrl: bridge.url,
          origin,
        })),
        bridgeProcessBufferutil: bridge.bufferutil,
      };
    } finally {
      problems = await group.stopAll();
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    return out;
  });
  report.row(
    '6 bridge',
    `direct TCP / via bridge, ${size} MiB (in-process client, Node AES)`,
    `${fixed(b?.directMiBps)} / ${fixed(b?.bridgeMiBps)} MiB/s`,
    `bridge/direct ${pct(b?.ratio)}`,
  );
  report.row(
    '6 bridge',
    'bufferutil: bench client / bridge process',
    `${b?.bufferutil ?? '-'} / ${b?.bridgeProcessBufferutil ?? '-'}`,
  );
  result.bridge = b;
}
