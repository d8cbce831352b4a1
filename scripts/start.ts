/**
 * `npm start` / `npm run dev`: runs the file server, the bridge and the web app together
 * with embedded defaults (SQLite and ./data). It checks the ports first, prints one banner
 * once all three are listening, restarts a part that dies (with backoff; it stops everything
 * when one keeps dying) and stops all three on Ctrl-C or SIGTERM. Each part can still be run
 * on its own (npm run server / bridge / web). Its arguments: --dev and --help (scripts/start-args.ts).
 */
import { spawnSync } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ACCESS_MODES, type AccessMode, defaultAccessMode } from '../lib/invite/access';
import { DEFAULT_BRIDGE_PORT, DEFAULT_SERVER_PORT, DEFAULT_WEB_PORT } from '../lib/protocol';
import { ALLOCATOR_ENV, HEAP_FLAGS } from '../platform/allocator-env';
import { logFormat, readableLineFormatter } from '../platform/log';
import { INVITE_PUB_FILE, loadInviteKeys } from '../server/invite-keys';
import { readServerFingerprint } from '../server/v4/server-key';
import { takenPorts } from './port-check';
import { RESTART_LIMIT } from './restart-policy';
import { parseStartArgs, START_HELP, USAGE_EXIT } from './start-args';
import { inviteCommand, pageUrl, startBanner } from './start-banner';
import { createSay, partLineFields, stoppingText } from './start-output';
import { type PartSpec, SupervisedPart } from './supervised-part';
import { nextEnv, webBuildCommand, webBuildIsFresh } from './web-build';

// Before anything else: --help and a mistyped option start nothing.
const args = parseStartArgs(process.argv.slice(2));
if (args.kind === 'help') {
  process.stdout.write(START_HELP);
  process.exit(0);
}
if (args.kind === 'error') {
  process.stderr.write(`${args.message}\n`);
  process.exit(USAGE_EXIT);
}
const { dev } = args;
const root = new URL('..', import.meta.url).pathname;
// Self-hosted and private by default: no Next.js telemetry unless asked for.
const env = nextEnv(process.env);
// The parts always log JSON to us: their `listening` events are read here, and on a terminal
// (unless SFT_LOG_FORMAT=json) the lines are shown readable.
const readable = logFormat(process.env) === 'pretty' ? readableLineFormatter() : undefined;
const host = env.SFT_HOST ?? '127.0.0.1';
const serverPort = env.SFT_PORT ?? String(DEFAULT_SERVER_PORT);
const bridgePort = env.SFT_BRIDGE_PORT ?? String(DEFAULT_BRIDGE_PORT);
const webPort = env.SFT_WEB_PORT ?? String(DEFAULT_WEB_PORT);
const defaultData = join(root, 'data');
const data = env.SFT_DATA ?? defaultData;
const origins = [`http://localhost:${webPort}`, `http://127.0.0.1:${webPort}`];
if (env.SFT_PUBLIC_ORIGIN) origins.push(env.SFT_PUBLIC_ORIGIN);
const wildcard = host === '0.0.0.0' || host === '::';
const hostInUrl = host.includes(':') ? `[${host}]` : host;
// One mode for all three parts: SFT_ACCESS, else open only while they listen on loopback
// (every part listens on SFT_HOST): the server's and the bridge's own rule (platform/access-mode.ts).
const accessText = env.SFT_ACCESS?.trim().toLowerCase();
if (accessText && !(ACCESS_MODES as readonly string[]).includes(accessText)) {
  console.error(`SFT_ACCESS is set to "${env.SFT_ACCESS}"; use open or invite.`);
  process.exit(1);
}
const access = (accessText as AccessMode | undefined) || defaultAccessMode([host]);
// Invite links point at the page: its public address, or where npm start serves it.
const publicUrl = env.SFT_PUBLIC_URL ?? `${pageUrl({ host, webPort, publicOrigin: env.SFT_PUBLIC_ORIGIN })}/`;
// The bridge verifies invites with the server's public key, which the server creates in its
// data folder when it starts: the bridge is started once the server is ready.
const invitePub = join(data, INVITE_PUB_FILE);

const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const say = createSay(logFormat(process.env));

function buildIfStale(): void {
  if (webBuildIsFresh(root)) return;
  say('Building the web app (next build, about a minute)...');
  const build = webBuildCommand(root, process.env);
  const r = spawnSync(build.cmd, build.args, build.options);
  if (r.status !== 0) {
    console.error('The web app did not build; see the output above.');
    process.exit(1);
  }
}

// One PID per part (node with tsx's loader, not the tsx wrapper), so signals reach the part.
const tsxLoader = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const nodePart = (main: string, args: string[]) => ({
  cmd: process.execPath,
  args: [...HEAP_FLAGS, '--import', tsxLoader, main, ...args],
});

function webEnv(): NodeJS.ProcessEnv {
  // The page's bridge URL and the hosts it answers for come from configuration only (never
  // from a request's Host header): app/runtime-config.ts, app/allowed-hosts.ts. The loopback
  // names stay allowed so the banner's URL works; SFT_PUBLIC_ORIGIN's host is added there.
  const extra: Record<string, string> = { SFT_BRIDGE_PORT: bridgePort, SFT_ACCESS: access };
  if (!env.SFT_BRIDGE_URL && !env.SFT_PUBLIC_ORIGIN && !wildcard)
    extra.SFT_BRIDGE_URL = `ws://${hostInUrl}:${bridgePort}/`;
  if (!env.SFT_ALLOWED_HOSTS) {
    extra.SFT_ALLOWED_HOSTS = [
      ...new Set(['localhost', '127.0.0.1', '[::1]', ...(wildcard ? [] : [hostInUrl])]),
    ].join(',');
  }
  return { ...env, ...extra };
}

const partEnv = { ...ALLOCATOR_ENV, ...env, SFT_LOG_FORMAT: 'json' };
const specs: PartSpec[] = [
  {
    name: 'server',
    ...nodePart('server/main.ts', ['--host', host, '--port', serverPort, '--data', data]),
    env: { ...partEnv, SFT_ACCESS: access, SFT_PUBLIC_URL: publicUrl },
    cwd: root,
    ready: { event: 'listening' },
  },
  {
    name: 'bridge',
    ...nodePart('bridge/main.ts', [
      '--listen',
      `${hostInUrl}:${bridgePort}`,
      '--target',
      `${hostInUrl}:${serverPort}`,
      ...origins.flatMap((o) => ['--origin', o]),
    ]),
    env: { ...partEnv, SFT_BRIDGE_ACCESS: access, SFT_BRIDGE_INVITE_KEY: invitePub },
    cwd: root,
    ready: { event: 'listening' },
  },
  {
    name: 'web',
    cmd: bin('next'),
    args: [dev ? 'dev' : 'start', '-p', webPort, '-H', host],
    env: webEnv(),
    cwd: root,
    ready: { http: `http://${wildcard ? '127.0.0.1' : hostInUrl}:${webPort}/` },
  },
];

const addresses = new Map<string, string>();
let bannerShown = false;
/** The server's v4 key fingerprint, read once the server has made its key. */
let fingerprint: string | undefined;
let stopping = false;
const parts: SupervisedPart[] = specs.map(
  (spec) =>
    new SupervisedPart(spec, {
      line(part, line) {
        if (line === '') return;
        if (line.startsWith('{') && readable) {
          try {
            say(readable(line));
            return;
          } catch {
            // not a log line: shown as it is
          }
        }
        if (line.startsWith('{')) process.stdout.write(`${line}\n`);
        else if (readable) say(`[${part}] ${line}`);
        else say(line, partLineFields(part, line));
      },
      ready(part, address, restarted) {
        addresses.set(part, address);
        // The server has made its data folder and invite key pair: the others may start now.
        // loadInviteKeys (the server's own module) only reads a pair that exists, and makes
        // one the same way if this server did not.
        if (part === 'server' && !restarted && !stopping) {
          Promise.all([loadInviteKeys(data), readServerFingerprint(data)]).then(
            ([, key]) => {
              fingerprint = key ?? undefined;
              if (!stopping) for (const p of parts.slice(1)) p.start();
            },
            (e: unknown) => {
              console.error(`The invite key pair in ${data} is unusable: ${(e as Error).message}`);
              void stop(1);
            },
          );
        }
        if (restarted)
          say(`${part} is running again (${address}).`, { event: 'restarted', from: part, address });
        if (!bannerShown && addresses.size === specs.length) {
          bannerShown = true;
          say(
            startBanner({
              webPort,
              host,
              bridge: addresses.get('bridge')!,
              server: addresses.get('server')!,
              data,
              publicOrigin: env.SFT_PUBLIC_ORIGIN,
              bridgeUrl: env.SFT_BRIDGE_URL,
              access: access,
              inviteCommand: inviteCommand({ data, defaultData, publicUrl }),
              fingerprint,
            }),
            {
              event: 'ready',
              page: `http://localhost:${webPort}/`,
              bridge: addresses.get('bridge'),
              server: addresses.get('server'),
              data,
              access,
              publicUrl,
              ...(access === 'invite'
                ? { inviteCommand: inviteCommand({ data, defaultData, publicUrl }) }
                : {}),
            },
          );
        }
      },
      died(part, how, restartInMs, recent) {
        if (stopping) return;
        if (restartInMs !== undefined) {
          say(
            `${part} stopped unexpectedly (${how}); restarting it in ${(restartInMs / 1000).toFixed(1)} s ` +
              `(${recent} of ${RESTART_LIMIT} allowed within a minute).`,
          );
          return;
        }
        console.error(
          recent > 1
            ? `${part} stopped ${recent} times within a minute (last: ${how}); stopping everything.`
            : `${part} stopped before it was ready (${how}); see its output above. Stopping everything.`,
        );
        void stop(1);
      },
    }),
);

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await Promise.all(parts.map((p) => p.stop()));
  }
  process.exit(code);
}

let interrupts = 0;
const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
  interrupts++;
  if (interrupts > 1) {
    for (const p of parts) p.kill();
    process.exit(128 + osConstants.signals[signal]);
  }
  say(stoppingText(signal));
  void stop(0);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

const taken = await takenPorts([
  { part: 'the file server', host, port: Number(serverPort), setting: 'SFT_PORT' },
  { part: 'the bridge', host, port: Number(bridgePort), setting: 'SFT_BRIDGE_PORT' },
  { part: 'the web app', host, port: Number(webPort), setting: 'SFT_WEB_PORT' },
]);
if (taken.length > 0) {
  for (const t of taken) {
    console.error(
      `Cannot start: port ${t.port} on ${t.host} (${t.part}) is already in use. ` +
        `Stop what uses it, or pick another port with ${t.setting}=PORT.`,
    );
  }
  process.exit(1);
}
if (wildcard && !env.SFT_PUBLIC_ORIGIN && !env.SFT_ALLOWED_HOSTS) {
  console.warn(
    `SFT_HOST=${host}: the page answers only for localhost until you set SFT_PUBLIC_ORIGIN ` +
      `(e.g. http://<this machine's name>:${webPort}), which also tells it where the bridge is.`,
  );
}
if (access === 'open' && defaultAccessMode([host]) === 'invite') {
  console.warn(
    `SFT_ACCESS=open on ${host}: anyone who reaches these addresses can register and send files. ` +
      'Use invite mode (the default there) unless this network is yours alone.',
  );
}
if (!dev) buildIfStale();
parts[0]!.start();
