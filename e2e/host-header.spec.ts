/**
 * Issue 14, item 8: the page's bridge URL and CSP come from configuration only, and a
 * request for a host that is not configured gets 421 (like Django's ALLOWED_HOSTS). Plain
 * HTTP against the production build (`next start`): the shared system (SFT_BRIDGE_URL set),
 * a `next start` with nothing configured (the case that used to put the request's Host into
 * the page's bridge URL and connect-src), and one configured for a public host.
 */
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { bin, freePort, type Started, startProcess } from '../test/support/processes';
import { expect, test } from './fixtures';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** GET on 127.0.0.1:port with exactly these headers (fetch cannot set Host). */
function get(port: number, path: string, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('no answer within 30 s')));
    req.end();
  });
}

/** Everything a client can see of an answer, as one string to search. */
const visible = (a: Answer) => `${JSON.stringify(a.headers)}\n${a.body}`;

/** The connect-src of the page's <meta> policy and of its CSP header. */
function connectSrc(a: Answer): { meta: string | undefined; header: string | undefined } {
  const meta = /<meta http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(a.body)?.[1];
  const header = /connect-src [^;]*/.exec(String(a.headers['content-security-policy'] ?? ''))?.[0];
  return { meta: meta?.replaceAll('&#x27;', "'"), header };
}

const EVIL = 'evil.example';

/** Hostile Host / X-Forwarded-Host combinations a client can send to the web app's port. */
function hostileRequests(port: number, goodHost: string): [string, Record<string, string>][] {
  return [
    ['Host: evil.example', { Host: EVIL }],
    ['Host: evil.example:port', { Host: `${EVIL}:${port}` }],
    ['a good Host with X-Forwarded-Host: evil.example', { Host: goodHost, 'X-Forwarded-Host': EVIL }],
    [
      'a good Host with X-Forwarded-Host: good, evil',
      { Host: goodHost, 'X-Forwarded-Host': `${goodHost}, ${EVIL}` },
    ],
    ['Host: evil.example with X-Forwarded-Proto: https', { Host: EVIL, 'X-Forwarded-Proto': 'https' }],
    ['a Host with user info (good@evil)', { Host: `${goodHost.split(':')[0]}@${EVIL}` }],
  ];
}

async function expectRefused(port: number, goodHost: string): Promise<void> {
  for (const path of ['/', '/_next/static/chunks/any.js', '/bench', '/icon.svg']) {
    for (const [what, headers] of hostileRequests(port, goodHost)) {
      const a = await get(port, path, headers);
      expect(a.status, `${what} on ${path}`).toBe(421);
      expect(visible(a), `${what} on ${path}`).not.toContain('evil');
    }
  }
}

/** The page is served for `headers`, and both its policies name exactly `bridge` besides 'self'. */
async function expectServed(port: number, headers: Record<string, string>, bridge: string): Promise<void> {
  const a = await get(port, '/', headers);
  const what = JSON.stringify(headers);
  expect(a.status, what).toBe(200);
  const policy = `connect-src 'self' ${bridge}`;
  expect(connectSrc(a), what).toEqual({ meta: policy, header: policy });
}

/** `next start` on a free port with `env`; resolves once it answers for `host`. */
async function startWeb(env: Record<string, string>, host: (port: number) => string) {
  const port = await freePort();
  const logDir = test.info().outputPath();
  mkdirSync(logDir, { recursive: true });
  const web: Started = startProcess('web', bin('next'), ['start', '-p', String(port), '-H', '127.0.0.1'], {
    logFile: join(logDir, 'web.log'),
    // Empty values unset what the Playwright process may have in its environment.
    env: { SFT_BRIDGE_URL: '', SFT_PUBLIC_ORIGIN: '', SFT_ALLOWED_HOSTS: '', SFT_BRIDGE_PORT: '', ...env },
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (web.proc.exitCode !== null) throw new Error(`next start exited; output:\n${web.output()}`);
    const up = await get(port, '/', { Host: host(port) }).catch(() => null);
    if (up?.status === 200) break;
    if (Date.now() > deadline)
      throw new Error(`next start did not answer within 60 s; output:\n${web.output()}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return { port, web };
}

test('the shared system (SFT_BRIDGE_URL set): 421 for a foreign Host or X-Forwarded-Host on every path, the configured host gets its bridge', async ({
  system,
}) => {
  const good = `127.0.0.1:${system.webPort}`;
  await expectRefused(system.webPort, good);
  const bridge = system.bridgeUrl.replace(/\/$/, '');
  for (const host of [good, `localhost:${system.webPort}`]) {
    await expectServed(system.webPort, { Host: host, 'X-Forwarded-Proto': 'https' }, bridge);
  }
});

test('nothing configured: loopback names only, the bridge is ws://127.0.0.1:8080 whatever Host and X-Forwarded-* say', async () => {
  const { port, web } = await startWeb({}, (p) => `127.0.0.1:${p}`);
  try {
    await expectRefused(port, `127.0.0.1:${port}`);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'LOCALHOST']) {
      const headers = { Host: host, 'X-Forwarded-Proto': 'https', 'X-Forwarded-Port': '9999' };
      await expectServed(port, headers, 'ws://127.0.0.1:8080');
    }
  } finally {
    await web.stop();
  }
});

test('configured for files.example.org: that host only (not even loopback), its bridge from SFT_BRIDGE_URL', async () => {
  const { port, web } = await startWeb(
    { SFT_PUBLIC_ORIGIN: 'https://files.example.org', SFT_BRIDGE_URL: 'wss://files.example.org/ws' },
    () => 'files.example.org',
  );
  try {
    await expectRefused(port, 'files.example.org');
    for (const host of [`127.0.0.1:${port}`, 'localhost']) {
      expect((await get(port, '/', { Host: host })).status, host).toBe(421);
    }
    for (const host of ['files.example.org', 'FILES.example.org:443']) {
      await expectServed(
        port,
        { Host: host, 'X-Forwarded-Host': 'files.example.org' },
        'wss://files.example.org',
      );
    }
  } finally {
    await web.stop();
  }
});
