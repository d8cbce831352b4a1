/**
 * Issue 14, item 7: /healthz flooded by 300 keep-alive clients (which made 1,848 requests/s
 * and a server connection each, so 31% of registrations got 1607). The real bridge process
 * in front of the real server, with a counting TCP forwarder between them: however hard
 * /healthz is hammered, the file server sees at most one probe connection per cache period,
 * and every registration made through the bridge meanwhile succeeds.
 */
import http from 'node:http';
import { type AddressInfo, connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpawnedBridge, spawnBridge } from '../bridge/helpers';
import { randomName, register, type ServerProcess, startServerProcess, wsConn } from '../support/hostile';

const CLIENTS = 300;
const HAMMER_MS = 6_000;
const CACHE_S = 1;

let srv: ServerProcess;
let bridge: SpawnedBridge;
let forwarder: { server: Server; port: number; connections: { bytes: number; closed: boolean }[] };

/** A TCP forwarder to the server that records, per connection, how many bytes the bridge sent. */
async function startForwarder(targetPort: number): Promise<typeof forwarder> {
  const connections: { bytes: number; closed: boolean }[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((from) => {
    const record = { bytes: 0, closed: false };
    connections.push(record);
    const to = connect(targetPort, '127.0.0.1');
    for (const s of [from, to]) {
      sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        sockets.delete(s);
        from.destroy();
        to.destroy();
        record.closed = true;
      });
    }
    from.on('data', (d: Buffer) => {
      record.bytes += d.length;
    });
    from.pipe(to);
    to.pipe(from);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, connections };
}

beforeAll(async () => {
  srv = await startServerProcess(['--max-connections', '64']);
  forwarder = await startForwarder(srv.port);
  bridge = await spawnBridge([
    '--target',
    `127.0.0.1:${forwarder.port}`,
    '--health-cache',
    String(CACHE_S),
    // The not-yet-upgraded caps are item 11's; here they must not be what limits the flood.
    '--max-pending',
    '1024',
    '--max-pending-per-ip',
    '1024',
  ]);
});

afterAll(async () => {
  await bridge?.stop();
  await new Promise((r) => forwarder?.server.close(r));
  await srv?.dispose();
});

describe('/healthz flood', () => {
  it(`${CLIENTS} keep-alive clients for ${HAMMER_MS / 1000} s: at most one probe per ${CACHE_S} s reaches the file server, and every registration through the bridge meanwhile succeeds`, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const statuses = new Map<number, number>();
    let errors = 0;
    const linesBefore = srv.output().split('\n').length;
    const deadline = Date.now() + HAMMER_MS;
    const healthOnce = () =>
      new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: bridge.port, path: '/healthz', agent }, (res) => {
          statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => {
          errors++;
          resolve();
        });
      });
    const hammer = Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < deadline) await healthOnce();
    });

    // Meanwhile, legitimate clients register through the bridge, one after another.
    let registered = 0;
    const failures: string[] = [];
    const legit = (async () => {
      for (let i = 0; i < 200 && Date.now() < deadline; i++) {
        try {
          const conn = await wsConn(bridge.url);
          await register(conn, randomName('legit'));
          conn.close();
          registered++;
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
    })();
    const t0 = Date.now();
    await Promise.all([...hammer, legit]);
    const seconds = (Date.now() - t0) / 1000;
    agent.destroy();

    const requests = [...statuses.values()].reduce((a, b) => a + b, 0);
    // Probe connections send nothing; relayed ones carry the registrations.
    const probes = forwarder.connections.filter((c) => c.bytes === 0).length;
    const relayed = forwarder.connections.length - probes;
    const serverLines = srv.output().split('\n').length - linesBefore;
    console.log(
      `/healthz flood: ${requests} requests in ${seconds.toFixed(1)} s (${Math.round(requests / seconds)}/s, ` +
        `statuses ${JSON.stringify(Object.fromEntries(statuses))}, ${errors} errors) -> ${probes} probe connections ` +
        `at the file server; ${registered} registrations through the bridge, ${failures.length} failed; ` +
        `${relayed} relayed connections; server log +${serverLines} lines`,
    );
    expect(requests).toBeGreaterThan(CLIENTS);
    expect([...statuses.keys()]).toEqual([200]);
    expect(probes).toBeLessThanOrEqual(Math.ceil(seconds / CACHE_S) + 2);
    expect(failures).toEqual([]);
    expect(registered).toBeGreaterThanOrEqual(3);
  });
});
