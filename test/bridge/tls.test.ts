/** --cert/--key: the bridge serves wss:// (and https /healthz) itself. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { ResponseCode } from '../../lib/protocol';
import {
  echoTarget,
  type FakeTarget,
  ORIGIN,
  requestFrame,
  startBridge,
  startTarget,
  type TestBridge,
} from './helpers';

let dir: string;
let cert: Buffer;
let target: FakeTarget;
let bridge: TestBridge;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-bridge-tls-'));
  // A throwaway self-signed certificate for 127.0.0.1.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  target = await startTarget(echoTarget());
  bridge = await startBridge(target.port, { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') });
});

afterAll(async () => {
  await bridge?.close();
  await target?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a wss:// client that trusts the certificate is relayed', async () => {
  const ws = new WebSocket(`wss://127.0.0.1:${bridge.port}/`, {
    ca: cert,
    origin: ORIGIN,
    perMessageDeflate: false,
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(requestFrame());
  const reply = await new Promise<Buffer>((resolve) => ws.once('message', resolve));
  expect(reply.readUInt16LE(1)).toBe(ResponseCode.Thanks);
  ws.close();
});

test('plain ws:// to the TLS port does not get through', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/`, { origin: ORIGIN });
  const outcome = await new Promise<string>((resolve) => {
    ws.once('open', () => resolve('open'));
    ws.once('error', () => resolve('error'));
  });
  expect(outcome).toBe('error');
});

test('/healthz over https', async () => {
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request(`https://127.0.0.1:${bridge.port}/healthz`, { ca: cert }, (res) => {
      res.resume();
      resolve(res.statusCode);
    })
      .on('error', reject)
      .end();
  });
  expect(status).toBe(200);
});
