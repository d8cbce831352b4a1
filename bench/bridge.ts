/**
 * Bridge throughput against a direct TCP upload of the same file, in the same run (the
 * ratio is what matters on a noisy machine). Benchmark code, not part of the running
 * bridge: it drives lib/client's ClientSession with the CLI's transports and Node AES, so
 * both paths pay the same encryption cost and differ only in the bridge hop.
 * Used by `npm run bench`; needs a running file server and a bridge in front of it.
 */
import { randomBytes } from 'node:crypto';
import type { HostPort } from '../bridge/config';
import { bufferutilStatus } from '../bridge/native';
import { createKeyPair, nodeEncryptorFactory } from '../cli/node-crypto';
import { TcpTransport } from '../cli/tcp-transport';
import { WsTransport } from '../cli/ws-transport';
import { ClientSession, establishIdentity, type Transport } from '../lib/client';
import { DEFAULT_BRIDGE_PORT, DEFAULT_SERVER_PORT, DEFAULT_WEB_PORT } from '../lib/protocol';
import { syntheticFile } from './synthetic-file';

const MiB = 1024 * 1024;
/** The plaintext source yields this much at a time (one buffer, reused: nothing grows with size). */
const SOURCE_CHUNK = MiB;

export interface BenchBridgeOptions {
  /** Plaintext bytes per upload. */
  sizeBytes: number;
  /** The file server, for the direct upload. Default 127.0.0.1:1256. */
  server?: HostPort;
  /** The bridge in front of that server. Default ws://127.0.0.1:8080/. */
  bridgeUrl?: string;
  /** Origin header for the bridge (must be on its --origin list). Default http://localhost:3000. */
  origin?: string;
  /** Alternate direct and bridge uploads this many times and keep the best of each (noisy machines). Default 1. */
  rounds?: number;
}

export interface BenchBridgeResult {
  sizeBytes: number;
  /** Upload rate straight to the file server over TCP, MiB of plaintext per second. */
  directMiBps: number;
  /** Upload rate through the bridge over a WebSocket. */
  bridgeMiBps: number;
  /** bridge / direct. */
  ratio: number;
  /** Whether ws uses the native bufferutil addon in this process (the client masks). */
  bufferutil: ReturnType<typeof bufferutilStatus>;
}

/** Registers a fresh client on `transport`, sends the file once, returns MiB/s of the sendFile call. */
async function timedUpload(transport: Transport, size: number, label: string): Promise<number> {
  const session = new ClientSession({ transport, encryptorFactory: nodeEncryptorFactory });
  try {
    const name = `bench-${label}-${randomBytes(4).toString('hex')}`;
    const { aesKey } = await establishIdentity(session, { name, createKeyPair });
    const file = syntheticFile(`${name}.bin`, size, randomBytes(SOURCE_CHUNK));
    const start = performance.now();
    const result = await session.sendFile(file, aesKey);
    const ms = performance.now() - start;
    if (!result.verified) throw new Error(`The ${label} upload was not verified by the server.`);
    return size / MiB / (ms / 1000);
  } finally {
    session.close();
  }
}

export async function benchBridge(opts: BenchBridgeOptions): Promise<BenchBridgeResult> {
  const server = opts.server ?? { host: '127.0.0.1', port: DEFAULT_SERVER_PORT };
  const bridgeUrl = opts.bridgeUrl ?? `ws://127.0.0.1:${DEFAULT_BRIDGE_PORT}/`;
  const origin = opts.origin ?? `http://localhost:${DEFAULT_WEB_PORT}`;
  let directMiBps = 0;
  let bridgeMiBps = 0;
  for (let round = 0; round < (opts.rounds ?? 1); round++) {
    const direct = await TcpTransport.connect(server.host, server.port);
    directMiBps = Math.max(directMiBps, await timedUpload(direct, opts.sizeBytes, 'direct'));
    const viaBridge = await WsTransport.connect(bridgeUrl, { origin });
    bridgeMiBps = Math.max(bridgeMiBps, await timedUpload(viaBridge, opts.sizeBytes, 'bridge'));
  }
  return {
    sizeBytes: opts.sizeBytes,
    directMiBps,
    bridgeMiBps,
    ratio: bridgeMiBps / directMiBps,
    bufferutil: bufferutilStatus(),
  };
}
