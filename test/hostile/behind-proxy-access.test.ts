/**
 * The deployment bridge/README.md gives for nginx or Caddy: the bridge on loopback with
 * `--trust-proxy`, the file server on its default 127.0.0.1. Both used to take their default
 * access mode from their own listener, which is loopback there, so both were `open` and any
 * stranger behind the proxy registered (1600) with no invite. `--trust-proxy` says the bridge
 * faces clients from elsewhere: its default is now `invite`, so that command needs the
 * server's invite.pub, and a handshake without an invite is refused at the bridge (4010)
 * before the file server sees it. Real processes; the proxy is simulated by the header.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode } from '../../lib/protocol';
import { rawClient, type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { type Listening, startPart } from '../support/processes';
import { spawnServer } from '../support/server-helpers';

const ORIGIN = 'https://files.example.org';
let tmp: string;
let server: Listening;
let bridge: SpawnedBridge | undefined;

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'sft-behind-proxy-'));
  server = await spawnServer(['--port', '0', '--data', path.join(tmp, 'data')], tmp);
});
afterAll(async () => {
  await bridge?.stop();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The README's command (the test's own port and target). */
const readmeArgs = () => ['--target', `127.0.0.1:${server.port}`, '--origin', ORIGIN, '--trust-proxy'];

/** A 1025 (register `name`), as a new client sends it. */
const register = (name: string) =>
  encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name });

it('the README command without an invite key refuses to start, naming --invite-key', async () => {
  const p = startPart('bridge', ['--listen', '127.0.0.1:0', ...readmeArgs()]);
  // Bounded: either it exits (the fix) or it logs listening (open access behind the proxy).
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && p.proc.exitCode === null && !p.lines.some((l) => l.event === 'listening')) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const listening = p.lines.some((l) => l.event === 'listening');
  if (listening) await p.stop();
  const code = await p.exited;
  expect(listening, p.output()).toBe(false);
  expect(code).not.toBe(0);
  expect(p.output()).toContain('--invite-key');
});

it('with the invite key, a stranger behind the proxy without an invite is refused (4010), not registered', async () => {
  const key = path.join(tmp, 'data', 'invite.pub');
  expect(existsSync(key)).toBe(true);
  bridge = await spawnBridge([...readmeArgs(), '--invite-key', key]);
  expect(bridge.event.access).toBe('invite');
  const c = await rawClient(bridge.url, {
    origin: ORIGIN,
    headers: { 'X-Forwarded-For': '203.0.113.5' },
  });
  c.ws.send(register('stranger'));
  const answer = await c.next().then(
    (m) => m.readUInt16LE(1),
    () => 0,
  );
  // 1600 (registered) was the answer before: open access behind the proxy.
  expect(answer).not.toBe(1600);
  expect((await c.closed).code).toBe(4010);
});
