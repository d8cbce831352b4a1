/**
 * `npm run bridge -- [options]`: the WebSocket bridge in front of one file server.
 * Logs JSON lines on stdout (readable ones on a terminal); once ready, one with
 * `"event":"listening"` and the `host` and `port` it took (`--listen 127.0.0.1:0` = any port).
 * SIGINT/SIGTERM: stop accepting, flush and close every WebSocket with 1001, then exit.
 */
import { EXIT_USAGE } from '../platform/options';
import { parseConfig, USAGE } from './config';
import { BridgeError } from './errors';
import { loadInvitePublicKey } from './invite-gate';
import { createBridgeLogger } from './log';
import { bufferutilStatus } from './native';
import { createBridge } from './server';

/** A second signal, or a shutdown that takes longer than this, exits at once. */
const SHUTDOWN_GRACE_MS = 15_000;

async function main(): Promise<void> {
  let parsed: ReturnType<typeof parseConfig>;
  try {
    parsed = parseConfig(process.argv.slice(2), process.env);
  } catch (err) {
    if (err instanceof BridgeError) {
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
    throw err;
  }
  if (parsed.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { config } = parsed;
  for (const w of parsed.warnings) process.stderr.write(`warning: ${w}\n`);
  // Loaded once: a key file replaced later takes effect at the next start.
  let inviteKey: CryptoKey | undefined;
  if (config.inviteKey !== undefined) {
    try {
      inviteKey = await loadInvitePublicKey(config.inviteKey);
    } catch (err) {
      if (!(err instanceof BridgeError)) throw err;
      process.stderr.write(`error: ${err.message}\n`);
      process.exit(EXIT_USAGE);
    }
  }
  const log = createBridgeLogger();
  const bridge = createBridge(config, { log, inviteKey });
  // Handlers before the listening line: whoever reads it may signal at once.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ event: 'shutdown', signal, connections: bridge.connections() });
    setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS).unref();
    bridge.close().then(() => {
      log.info({ event: 'stopped' });
      process.exit(0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  try {
    await bridge.listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    process.stderr.write(
      `The bridge cannot listen on ${config.listen.host}:${config.listen.port} (${e.code ?? e.message}); ` +
        'pick another --listen address or stop whatever uses it.\n',
    );
    process.exit(1);
  }
  const addr = bridge.address()!;
  const url = `${config.cert ? 'wss' : 'ws'}://${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/`;
  log.info(
    {
      event: 'listening',
      host: addr.host,
      port: addr.port,
      url,
      target: `${config.target.host}:${config.target.port}`,
      origins: config.origins,
      maxPayload: config.maxPayload,
      access: config.access,
      bufferutil: bufferutilStatus(),
    },
    `listening on ${url}`,
  );
}

await main();
