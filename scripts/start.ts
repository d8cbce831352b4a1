/**
 * `npm start` / `npm run dev`: runs the file server, the bridge and the web app together
 * with embedded defaults (SQLite and ./data), prints the URL to open, and stops all three
 * on Ctrl-C. Each part can still be run on its own (npm run server / bridge / web).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DEFAULT_BRIDGE_PORT, DEFAULT_SERVER_PORT, DEFAULT_WEB_PORT } from '../lib/protocol';
import { webBuildIsFresh } from './web-build';

const dev = process.argv.includes('--dev');
const root = new URL('..', import.meta.url).pathname;
// Self-hosted and private by default: no Next.js telemetry unless asked for.
const env: NodeJS.ProcessEnv = { NEXT_TELEMETRY_DISABLED: '1', ...process.env };
// The children's stdout is a pipe, so they would log JSON: on a terminal, ask for readable lines.
if (process.stdout.isTTY && !env.SFT_LOG_FORMAT) env.SFT_LOG_FORMAT = 'pretty';
const host = env.SFT_HOST ?? '127.0.0.1';
const serverPort = env.SFT_PORT ?? String(DEFAULT_SERVER_PORT);
const bridgePort = env.SFT_BRIDGE_PORT ?? String(DEFAULT_BRIDGE_PORT);
const webPort = env.SFT_WEB_PORT ?? String(DEFAULT_WEB_PORT);
const data = env.SFT_DATA ?? join(root, 'data');
const origins = [`http://localhost:${webPort}`, `http://127.0.0.1:${webPort}`];
if (env.SFT_PUBLIC_ORIGIN) origins.push(env.SFT_PUBLIC_ORIGIN);

const bin = (name: string) => join(root, 'node_modules', '.bin', name);

async function buildIfStale(): Promise<void> {
  if (webBuildIsFresh(root)) return;
  console.log('Building the web app (next build)...');
  const r = spawnSync(bin('next'), ['build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('The web app did not build; see the output above.');
    process.exit(1);
  }
}

const children: { name: string; proc: ChildProcess }[] = [];
let stopping = false;

function run(name: string, cmd: string, args: string[], extraEnv: Record<string, string> = {}): void {
  const proc = spawn(cmd, args, {
    cwd: root,
    env: { ...env, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${name}] `;
  for (const stream of [proc.stdout, proc.stderr]) {
    let rest = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(prefix + line + '\n');
    });
  }
  proc.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`${name} stopped unexpectedly (${signal ?? `exit code ${code}`}); stopping the others.`);
    stop(1);
  });
  children.push({ name, proc });
}

function stop(code: number): void {
  if (stopping) return;
  stopping = true;
  let left = children.filter((c) => c.proc.exitCode === null && c.proc.signalCode === null).length;
  if (left === 0) process.exit(code);
  for (const { proc } of children) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    proc.once('exit', () => {
      left -= 1;
      if (left === 0) process.exit(code);
    });
    proc.kill('SIGTERM');
  }
  setTimeout(() => {
    for (const { proc } of children) if (proc.exitCode === null) proc.kill('SIGKILL');
    process.exit(code);
  }, 5000).unref();
}

process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

if (!dev) await buildIfStale();
const tsx = bin('tsx');
run('server', tsx, ['server/main.ts', '--host', host, '--port', serverPort, '--data', data]);
run('bridge', tsx, [
  'bridge/main.ts',
  '--listen',
  `${host}:${bridgePort}`,
  '--target',
  `${host}:${serverPort}`,
  ...origins.flatMap((o) => ['--origin', o]),
]);
// The page's bridge URL and the hosts it answers for come from configuration only (never
// from a request's Host header): app/runtime-config.ts, app/allowed-hosts.ts. The loopback
// names stay allowed so the URL printed below works; SFT_PUBLIC_ORIGIN's host is added there.
const webEnv: Record<string, string> = { SFT_BRIDGE_PORT: bridgePort };
const wildcard = host === '0.0.0.0' || host === '::';
const hostInUrl = host.includes(':') ? `[${host}]` : host;
if (!env.SFT_BRIDGE_URL && !env.SFT_PUBLIC_ORIGIN && !wildcard) {
  webEnv.SFT_BRIDGE_URL = `ws://${hostInUrl}:${bridgePort}/`;
}
if (!env.SFT_ALLOWED_HOSTS) {
  webEnv.SFT_ALLOWED_HOSTS = [
    ...new Set(['localhost', '127.0.0.1', '[::1]', ...(wildcard ? [] : [hostInUrl])]),
  ].join(',');
}
if (wildcard && !env.SFT_PUBLIC_ORIGIN && !env.SFT_ALLOWED_HOSTS) {
  console.warn(
    `SFT_HOST=${host}: the page answers only for localhost until you set SFT_PUBLIC_ORIGIN ` +
      `(e.g. http://<this machine's name>:${webPort}), which also tells it where the bridge is.`,
  );
}
run('web', bin('next'), [dev ? 'dev' : 'start', '-p', webPort, '-H', host], webEnv);
console.log(
  `\n  Open http://localhost:${webPort} in your browser. Files are stored in ${data}. Ctrl-C stops everything.\n`,
);
