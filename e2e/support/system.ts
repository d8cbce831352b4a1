/**
 * The whole product on loopback ports for one test worker: file server (temp data folder),
 * the flip proxy (pass-through unless a test says otherwise), the bridge in front of the
 * proxy, and the production web app (`next start`) told where the bridge is.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInviteKeys } from '../../server/invite-keys';
import { type FlipProxy, startFlipProxy } from '../../test/support/flip-proxy';
import {
  bin,
  freePort,
  type Started,
  spawnPart,
  startProcess,
  waitForHttp,
} from '../../test/support/processes';
import { ServerState } from '../../test/support/server-state';

export interface SystemOptions {
  /**
   * `invite`: server, bridge and page in invite mode (SFT_ACCESS=invite, the bridge given the
   * server's data/invite.pub). Default: open, as every spec but the invite ones runs.
   */
  access?: 'open' | 'invite';
}

export interface System {
  access: 'open' | 'invite';
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
  /** Stops the file server and starts it again on the same port and data folder (`before` runs in between). */
  restartServer(before?: () => void | Promise<void>): Promise<void>;
  /** The file server's JSON log lines so far (the current process's). */
  serverLines(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** The systems started and not yet stopped in this worker (what a failed test's report shows). */
export const runningSystems = new Set<System>();

export async function startSystem(opts: SystemOptions = {}): Promise<System> {
  const access = opts.access ?? 'open';
  const inviteMode = access === 'invite';
  const workDir = mkdtempSync(join(tmpdir(), 'sft-e2e-'));
  const dataDir = join(workDir, 'data');
  const logDir = join(workDir, 'logs');
  mkdirSync(dataDir);
  mkdirSync(logDir);
  const procs: Started[] = [];
  let proxy: FlipProxy | undefined;
  let bridge: Started | undefined;
  const logFile = (name: string) => join(logDir, `${name}.log`);
  // Stopped by PID: SIGTERM, SIGKILL after 5 s.
  const stop = (p: Started | undefined) => p?.stop('SIGTERM', 5000);

  try {
    // Every browser reaches the server from the bridge's address (127.0.0.1) until the bridge
    // sends PROXY v2 headers: the per-source 1025/1027 limits would count all tests as one peer.
    const unlimited = ['--register-per-minute', '1000000', '--reconnect-per-minute', '1000000'];
    const webPort = await freePort();
    const webUrl = `http://127.0.0.1:${webPort}`;
    // The server makes its invite key pair in the data folder when it starts (before `listening`).
    const inviteArgs = inviteMode ? ['--access', 'invite', '--public-url', `${webUrl}/`] : [];
    const serverArgs = (port: number) => [
      '--port',
      String(port),
      '--data',
      dataDir,
      ...unlimited,
      ...inviteArgs,
    ];
    let server = await spawnPart('server', serverArgs(0), { logFile: logFile('server') });
    procs.push(server);

    // The server's own module: reads the pair the server made at start (or makes it the same way).
    if (inviteMode) await loadInviteKeys(dataDir);
    proxy = await startFlipProxy({ targetPort: server.port, flip: false });
    // Any free port the first time, the same one after a restart (the page keeps its URL).
    let bridgePort = 0;

    const startBridge = async () => {
      const b = await spawnPart(
        'bridge',
        [
          '--listen',
          `127.0.0.1:${bridgePort}`,
          '--target',
          `127.0.0.1:${proxy!.port}`,
          '--origin',
          webUrl,
          ...(inviteMode ? ['--access', 'invite', '--invite-key', join(dataDir, 'invite.pub')] : []),
        ],
        { logFile: logFile('bridge') },
      );
      bridge = b;
      bridgePort = b.port;
    };
    const stopBridge = async () => {
      await stop(bridge);
      bridge = undefined;
    };
    await startBridge();
    const bridgeUrl = `ws://127.0.0.1:${bridgePort}/`;

    const web = startProcess('web', bin('next'), ['start', '-p', String(webPort), '-H', '127.0.0.1'], {
      logFile: logFile('web'),
      // next start has children of its own: stop its whole process group.
      group: true,
      env: { SFT_BRIDGE_URL: bridgeUrl, SFT_ACCESS: access, NEXT_TELEMETRY_DISABLED: '1' },
    });
    procs.push(web);
    await waitForHttp(webUrl, web);

    const system: System = {
      access,
      workDir,
      dataDir,
      logDir,
      serverPort: server.port,
      bridgePort,
      webPort,
      webUrl,
      bridgeUrl,
      proxy,
      server: new ServerState(dataDir),
      stopBridge,
      startBridge,
      async restartServer(before) {
        const old = server;
        await stop(old);
        await before?.();
        server = await spawnPart('server', serverArgs(old.port), { logFile: logFile('server-restarted') });
        procs[procs.indexOf(old)] = server;
      },
      serverLines: () => server.lines as Record<string, unknown>[],
      async stop() {
        runningSystems.delete(system);
        await stopBridge();
        for (const p of procs.reverse()) await stop(p);
        await proxy?.close();
        if (!process.env.SFT_E2E_KEEP) rmSync(workDir, { recursive: true, force: true });
      },
    };
    runningSystems.add(system);
    return system;
  } catch (e) {
    await stop(bridge);
    for (const p of procs.reverse()) await stop(p);
    await proxy?.close();
    throw e;
  }
}
