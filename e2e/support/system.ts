/**
 * The whole product on loopback ports for one test worker: file server (temp data folder),
 * the flip proxy (pass-through unless a test says otherwise), the bridge in front of the
 * proxy, and the production web app (`next start`) told where the bridge is.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FlipProxy, startFlipProxy } from '../../test/support/flip-proxy';
import { ServerState } from '../../test/support/server-state';
import { bin, freePort, type Proc, startProcess, waitForHttp, waitForPort } from './processes';

export interface System {
  /** Scratch folder: data/, logs/, files the tests make. */
  workDir: string;
  dataDir: string;
  logDir: string;
  serverPort: number;
  bridgePort: number;
  webPort: number;
  webUrl: string;
  bridgeUrl: string;
  proxy: FlipProxy;
  server: ServerState;
  stopBridge(): Promise<void>;
  startBridge(): Promise<void>;
  stop(): Promise<void>;
}

export async function startSystem(): Promise<System> {
  const workDir = mkdtempSync(join(tmpdir(), 'sft-e2e-'));
  const dataDir = join(workDir, 'data');
  const logDir = join(workDir, 'logs');
  mkdirSync(dataDir);
  mkdirSync(logDir);
  const procs: Proc[] = [];
  let proxy: FlipProxy | undefined;
  let bridge: Proc | undefined;
  const tsx = bin('tsx');

  try {
    const serverPort = await freePort();
    const server = startProcess(
      'server',
      tsx,
      // Every browser reaches the server from the bridge's address (127.0.0.1) until the bridge
      // sends PROXY v2 headers: the per-source 1025/1027 limits would count all tests as one peer.
      [
        'server/main.ts',
        ...['--port', String(serverPort), '--data', dataDir],
        ...['--register-per-minute', '1000000', '--reconnect-per-minute', '1000000'],
      ],
      {
        logDir,
      },
    );
    procs.push(server);
    await waitForPort(serverPort, 'file server', server);

    proxy = await startFlipProxy({ targetPort: serverPort, flip: false });
    const bridgePort = await freePort();
    const webPort = await freePort();
    const webUrl = `http://127.0.0.1:${webPort}`;
    const bridgeUrl = `ws://127.0.0.1:${bridgePort}/`;

    const startBridge = async () => {
      bridge = startProcess(
        'bridge',
        tsx,
        [
          'bridge/main.ts',
          '--listen',
          `127.0.0.1:${bridgePort}`,
          '--target',
          `127.0.0.1:${proxy!.port}`,
          '--origin',
          webUrl,
        ],
        { logDir },
      );
      await waitForPort(bridgePort, 'bridge', bridge);
    };
    const stopBridge = async () => {
      await bridge?.stop();
      bridge = undefined;
    };
    await startBridge();

    const web = startProcess('web', bin('next'), ['start', '-p', String(webPort), '-H', '127.0.0.1'], {
      logDir,
      env: { SFT_BRIDGE_URL: bridgeUrl },
    });
    procs.push(web);
    await waitForHttp(webUrl, 'web app', web);

    return {
      workDir,
      dataDir,
      logDir,
      serverPort,
      bridgePort,
      webPort,
      webUrl,
      bridgeUrl,
      proxy,
      server: new ServerState(dataDir),
      stopBridge,
      startBridge,
      async stop() {
        await stopBridge();
        for (const p of procs.reverse()) await p.stop();
        await proxy?.close();
        if (!process.env.SFT_E2E_KEEP) rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await bridge?.stop();
    for (const p of procs.reverse()) await p.stop();
    await proxy?.close();
    throw e;
  }
}
