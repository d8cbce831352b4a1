/**
 * Interoperability with a real HAProxy (`server ... send-proxy-v2`), on 127.0.0.1 only. Skipped
 * where haproxy is not installed (`apt-get install haproxy`); the bytes it sends are also kept as
 * known-answer vectors in proxy-protocol.test.ts, so the codec is covered either way.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProxyHeader } from '../../platform/proxy-header-reader';
import { getTlv, Pp2Type, type ProxyHeader } from '../../platform/proxy-protocol';

const haveHaproxy = spawnSync('haproxy', ['-v']).status === 0;

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe.skipIf(!haveHaproxy)('HAProxy send-proxy-v2 -> readProxyHeader', () => {
  let haproxy: ChildProcess;
  let dir: string;
  let server: net.Server;
  let frontPlain: number;
  let frontUnique: number;
  const seen: { header: ProxyHeader | undefined; stream: Buffer }[] = [];

  beforeAll(async () => {
    server = net.createServer(async (socket) => {
      socket.on('error', () => {});
      try {
        const { header } = await readProxyHeader(socket, { timeoutMs: 2000 });
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => {
          chunks.push(c);
          // Echo so the client can tell the stream after the header arrived whole.
          socket.write(c);
        });
        socket.on('end', () => {
          seen.push({ header, stream: Buffer.concat(chunks) });
          socket.end();
        });
        socket.resume();
      } catch {
        socket.destroy();
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const back = (server.address() as net.AddressInfo).port;
    frontPlain = await freePort();
    frontUnique = await freePort();
    dir = mkdtempSync(join(tmpdir(), 'sft-haproxy-'));
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      [
        'defaults',
        '  mode tcp',
        '  timeout connect 2s',
        '  timeout client 5s',
        '  timeout server 5s',
        'frontend plain',
        `  bind 127.0.0.1:${frontPlain}`,
        '  default_backend plain',
        'backend plain',
        `  server s 127.0.0.1:${back} send-proxy-v2`,
        'frontend unique',
        `  bind 127.0.0.1:${frontUnique}`,
        '  unique-id-format conn-%ci-%cp',
        '  default_backend unique',
        'backend unique',
        `  server s 127.0.0.1:${back} send-proxy-v2 proxy-v2-options unique-id,crc32c`,
        '',
      ].join('\n'),
    );
    haproxy = spawn('haproxy', ['-f', cfg, '-db'], { stdio: 'ignore' });
    // Wait until both frontends accept.
    for (const port of [frontPlain, frontUnique]) {
      for (let i = 0; ; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
        if (ok) break;
        if (i > 100) throw new Error('haproxy did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  afterAll(async () => {
    haproxy?.kill();
    await new Promise((r) => server?.close(r));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function relay(port: number, payload: Buffer): Promise<{ local: number; echoed: Buffer }> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    const local = s.localPort!;
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.end(payload);
    await once(s, 'close');
    return { local, echoed: Buffer.concat(chunks) };
  }

  it('the header names the real client, and the stream after it is intact', async () => {
    const payload = Buffer.alloc(100_000, 7);
    const before = seen.length;
    const { local, echoed } = await relay(frontPlain, payload);
    expect(echoed.equals(payload)).toBe(true);
    const entry = seen
      .slice(before)
      .find((e) => e.header?.command === 'proxy' && 'source' in e.header && e.header.source.port === local);
    expect(entry?.header).toEqual({
      command: 'proxy',
      family: 'tcp4',
      source: { address: '127.0.0.1', port: local },
      destination: { address: '127.0.0.1', port: frontPlain },
      tlvs: [],
    });
    expect(entry?.stream.equals(payload)).toBe(true);
  });

  it('TLVs: the unique ID HAProxy made, under a checked CRC32C', async () => {
    const { local } = await relay(frontUnique, Buffer.from('x'));
    const entry = seen.find((e) => e.header && 'source' in e.header && e.header.source.port === local);
    const tlvs = entry!.header!.tlvs;
    expect(new TextDecoder().decode(getTlv(tlvs, Pp2Type.UNIQUE_ID))).toBe(`conn-127.0.0.1-${local}`);
    expect(getTlv(tlvs, Pp2Type.CRC32C)).toHaveLength(4);
  });
});
