/**
 * `npm start` (scripts/start.ts) as a person meets it, as real processes on free ports with a
 * temporary data folder: a taken port, the one banner, readable lines, a part restarted after
 * it died, and Ctrl-C. The web app runs as `next dev` (--dev): no production build needed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HEAP_FLAGS } from '../../platform/allocator-env';
import { readServerFingerprint } from '../../server/v4/server-key';
import { runCli } from '../support/cli-process';
import { freePort, ROOT, type Started, startProcess, TSX_LOADER, waitForOutput } from '../support/processes';

const START = path.join(ROOT, 'scripts/start.ts');

interface Ports {
  server: number;
  bridge: number;
  web: number;
}

function startAll(ports: Ports, data: string, extraEnv: Record<string, string> = {}): Started {
  return startProcess('npm start', process.execPath, ['--import', TSX_LOADER, START, '--dev'], {
    // A process group, so Ctrl-C can reach it as a terminal sends it: to every process in it.
    group: true,
    env: {
      SFT_PORT: String(ports.server),
      SFT_BRIDGE_PORT: String(ports.bridge),
      SFT_WEB_PORT: String(ports.web),
      SFT_DATA: data,
      SFT_LOG_FORMAT: 'pretty',
      NEXT_TELEMETRY_DISABLED: '',
      ...extraEnv,
    },
  });
}

/** The PID of the child of `parent` whose command line contains `text`. */
function childPid(parent: number, text: string): number {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  const line = out.split('\n').find((l) => l.includes(text));
  if (!line) throw new Error(`no child of ${parent} runs ${text}:\n${out}`);
  return Number(line.trim().split(/\s+/)[0]);
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'sft-start-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('npm start --help and a wrong argument: nothing started', () => {
  /** start.ts run directly with `args`; SFT_DATA names a folder that must stay absent. */
  function startWith(args: string[], data: string) {
    return spawnSync(process.execPath, ['--import', TSX_LOADER, START, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      env: { ...process.env, NODE_OPTIONS: '', SFT_DATA: data, SFT_PORT: '1', SFT_LOG_FORMAT: 'json' },
    });
  }

  it('--help (and -h, and with --dev) prints what it runs, its settings and --dev; exit 0', () => {
    for (const args of [['--help'], ['-h'], ['--dev', '--help']]) {
      const data = path.join(tmp, `help-${args.join('')}`);
      const r = startWith(args, data);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      for (const text of [
        'Usage: npm start',
        'server/main.ts',
        'bridge/main.ts',
        'next start',
        '--dev',
        ...['SFT_HOST', 'SFT_PORT', 'SFT_BRIDGE_PORT', 'SFT_WEB_PORT', 'SFT_DATA', 'SFT_ACCESS'],
        ...['SFT_PUBLIC_ORIGIN', 'SFT_PUBLIC_URL', 'SFT_BRIDGE_URL', 'SFT_ALLOWED_HOSTS', 'SFT_LOG_FORMAT'],
      ])
        expect(r.stdout, text).toContain(text);
      // Nothing ran: no port check (SFT_PORT=1 is not one it could take), no build, no data folder.
      expect(r.stdout).not.toMatch(/Cannot start|Building|listening/);
      expect(existsSync(data)).toBe(false);
    }
  });

  it('every environment variable start.ts reads is in --help', () => {
    const source = readFileSync(START, 'utf8');
    const read = new Set([...source.matchAll(/env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    read.add('NEXT_TELEMETRY_DISABLED'); // nextEnv (scripts/web-build.ts)
    const help = startWith(['--help'], path.join(tmp, 'help-env')).stdout;
    for (const name of read) expect(help, name).toContain(name);
  });

  it('an unknown option or an argument: a clear error on stderr, exit 2, nothing started', () => {
    for (const [args, said] of [
      [['--port', '9'], 'unknown option --port'],
      [['--dev', '--verbose'], 'unknown option --verbose'],
      [['server'], 'unexpected argument "server"'],
      [['--dev=yes'], "Option '--dev' does not take an argument"],
    ] as const) {
      const data = path.join(tmp, `wrong-${args.join('')}`);
      const r = startWith([...args], data);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`npm start: ${said}`);
      expect(r.stderr).toContain('It takes only --dev and --help (npm start -- --help).');
      expect(existsSync(data)).toBe(false);
    }
  });
});

describe('npm start', () => {
  it('a taken port: a clear error naming it and its setting, exit 1, no banner, nothing started', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const ports = { server: await freePort(), bridge: taken, web: await freePort() };
      const p = startAll(ports, path.join(tmp, 'taken'));
      const code = await p.exited;
      expect(code).toBe(1);
      expect(p.output()).toContain(
        `port ${taken} on 127.0.0.1 (the bridge) is already in use. Stop what uses it, or pick another port with SFT_BRIDGE_PORT=PORT.`,
      );
      expect(p.output()).not.toContain('is running');
      expect(p.output()).not.toContain('listening');
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('one banner once all parts listen; readable lines; a dead part restarts; Ctrl-C stops all, logged once', async () => {
    const ports = { server: await freePort(), bridge: await freePort(), web: await freePort() };
    const data = path.join(tmp, 'data');
    const p = startAll(ports, data);
    try {
      await waitForOutput(p, /Ctrl-C stops everything/, 'its banner', 170_000);
      const out = p.output();
      const banner = out.slice(out.indexOf('sftransfer is running'));
      // Printed once, after each part said it listens (the page only once it answered HTTP).
      expect(out.split('sftransfer is running').length).toBe(2);
      expect(out.indexOf('bridge: listening')).toBeLessThan(out.indexOf('sftransfer is running'));
      expect(out.indexOf('server: listening')).toBeLessThan(out.indexOf('sftransfer is running'));
      expect(banner).toContain(`http://localhost:${ports.web}`);
      expect(banner).toContain(`ws://127.0.0.1:${ports.bridge}/`);
      expect(banner).toContain(`127.0.0.1:${ports.server}`);
      expect(banner).toContain(data);
      expect(banner).toContain('open: anyone who can reach these addresses can send');
      // The server's v4 key, as `npm run server -- info` prints it.
      expect(banner).toContain(`Key:    ${await readServerFingerprint(data)}`);
      expect((await fetch(`http://127.0.0.1:${ports.web}/`)).status).toBe(200);
      expect(out).not.toMatch(/telemetry/i);

      // A person reads what happened, not protocol codes.
      const dir = await mkdtemp(path.join(tmp, 'alice-'));
      await writeFile(path.join(dir, 'report.txt'), 'x'.repeat(3000));
      const cli = spawnSync(
        process.execPath,
        [
          path.join(ROOT, 'cli/bin.mjs'),
          '--protocol',
          '3',
          '--server',
          `127.0.0.1:${ports.server}`,
          '--name',
          'alice',
          'report.txt',
        ],
        { cwd: dir, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
      );
      expect(cli.status).toBe(0);
      await waitForOutput(p, /server: alice's report\.txt is verified/, 'the verified line', 20_000);
      expect(p.output()).toMatch(
        /INFO: server: alice sent report\.txt, 3\.\d KiB encrypted; checking its CRC/,
      );
      expect(p.output()).not.toMatch(/"code":1028/);

      // Both long-running parts run with the heap floor (platform/allocator-env.ts).
      for (const part of ['server/main.ts', 'bridge/main.ts']) {
        const args = readFileSync(`/proc/${childPid(p.pid, part)}/cmdline`, 'utf8').split('\0');
        for (const flag of HEAP_FLAGS) expect(args).toContain(flag);
      }

      // The bridge dies: it is restarted, and it says so.
      process.kill(childPid(p.pid, 'bridge/main.ts'), 'SIGKILL');
      await waitForOutput(
        p,
        /bridge stopped unexpectedly \(SIGKILL\); restarting it in 0\.5 s/,
        'the restart',
        20_000,
      );
      await waitForOutput(p, /bridge is running again/, 'the bridge back', 30_000);
      expect(await connects(ports.bridge)).toBe(true);
      expect(await connects(ports.server)).toBe(true);

      // Ctrl-C from a terminal reaches every process of the group.
      const code = await p.stop('SIGINT', 20_000);
      expect(code).toBe(0);
      expect(p.output().match(/shutting down/g)).toHaveLength(1);
      expect(await connects(ports.server)).toBe(false);
      expect(await connects(ports.bridge)).toBe(false);
    } finally {
      await p.stop('SIGKILL');
    }
  }, 240_000);

  it('SFT_ACCESS=invite: every part in invite mode, the key made before the bridge reads it, the banner says how to make a link, and that link sends', async () => {
    const ports = { server: await freePort(), bridge: await freePort(), web: await freePort() };
    const data = path.join(tmp, 'invite');
    const p = startAll(ports, data, { SFT_ACCESS: 'invite' });
    try {
      await waitForOutput(p, /Ctrl-C stops everything/, 'its banner', 170_000);
      const out = p.output();
      const banner = out.slice(out.indexOf('sftransfer is running'));
      expect(banner).toContain('invite: only people with an invite link can send');
      // Another data folder and web port than the server's defaults: the command names both.
      expect(banner).toContain(
        `npm run server -- invite create --data ${data} --public-url http://localhost:${ports.web}/ --label NAME`,
      );
      // The server made its invite key pair; the bridge started after it and uses the public half.
      expect(existsSync(path.join(data, 'invite.pub'))).toBe(true);
      expect(existsSync(path.join(data, 'invite.key'))).toBe(true);
      // The page is in invite mode...
      const html = await (await fetch(`http://127.0.0.1:${ports.web}/`)).text();
      expect(html).toContain('data-access="invite"');
      // ...and so is the bridge: no invite, closed with 4010 at once.
      const socket = new WebSocket(`ws://127.0.0.1:${ports.bridge}/`, {
        headers: { origin: `http://localhost:${ports.web}` },
      });
      const code = await new Promise<number>((resolve, reject) => {
        socket.once('close', (c) => resolve(c));
        socket.once('error', reject);
      });
      expect(code).toBe(4010);
      // ...and the server: a link made by the command in the banner is for this page.
      const made = spawnSync(
        process.execPath,
        [
          '--import',
          TSX_LOADER,
          path.join(ROOT, 'server/main.ts'),
          'invite',
          'create',
          '--data',
          data,
          '--public-url',
          `http://localhost:${ports.web}/`,
          '--label',
          'Dana',
        ],
        { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } },
      );
      expect(made.status, made.stderr).toBe(0);
      const link = /http:\/\/localhost:\d+\/#invite=sfi1\.[\w.-]+/.exec(made.stdout)?.[0];
      expect(link).toContain(`http://localhost:${ports.web}/#invite=sfi1.`);
      // That link lets a sender through the bridge to the server (registered, bound, stored)...
      const dir = await mkdtemp(path.join(tmp, 'dana-'));
      await writeFile(path.join(dir, 'notes.txt'), 'y'.repeat(2000));
      const ws = `ws://127.0.0.1:${ports.bridge}/`;
      const sent = await runCli(['--server', ws, '--name', 'dana', '--invite', link!, 'notes.txt'], dir);
      expect(sent.code, sent.stderr).toBe(0);
      expect(sent.stdout).toMatch(/notes\.txt .*verified/);
      // ...and without one the same CLI is refused with the sentence for 4010.
      const other = await mkdtemp(path.join(tmp, 'eve-'));
      await writeFile(path.join(other, 'x.txt'), 'x');
      const refused = await runCli(['--server', ws, '--name', 'eve', 'x.txt'], other);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('You need an invite link from the owner of this server.');
    } finally {
      await p.stop('SIGKILL');
    }
  }, 240_000);

  it('a part that keeps dying (5 times within a minute) stops everything, exit 1', async () => {
    const ports = { server: await freePort(), bridge: await freePort(), web: await freePort() };
    const p = startAll(ports, path.join(tmp, 'dying'));
    try {
      await waitForOutput(p, /Ctrl-C stops everything/, 'its banner', 170_000);
      for (let death = 1; death <= 5; death++) {
        process.kill(childPid(p.pid, 'server/main.ts'), 'SIGKILL');
        if (death < 5) {
          const again = new RegExp(`(server is running again[^]*){${death}}`);
          await waitForOutput(p, again, `restart ${death}`, 30_000);
        }
      }
      expect(await p.exited).toBe(1);
      expect(p.output()).toContain(
        'server stopped 5 times within a minute (last: SIGKILL); stopping everything.',
      );
      expect(p.output()).toContain('restarting it in 4.0 s (4 of 5 allowed within a minute)');
      expect(await connects(ports.bridge)).toBe(false);
      expect(await connects(ports.web)).toBe(false);
    } finally {
      await p.stop('SIGKILL');
    }
  }, 240_000);
});
