/**
 * TEST ONLY: a byte-counting TCP proxy for protocol v4 tests: XORs the client -> server byte
 * at `flipAt` (an offset into that direction's stream), or cuts the connection once
 * `cutAfter` client -> server bytes went through. Server -> client bytes pass unchanged.
 * Each connection counts from 0; `armed` switches the mutation on for new connections.
 * `trickleMs` set (at any time): client -> server bytes from then on are queued and let
 * through `trickleBytes` (1) per that many ms (a slow sender whose every byte stays within
 * the idle timeout).
 */
import net from 'node:net';

export interface V4ProxyOptions {
  targetPort: number;
  flipAt?: number;
  cutAfter?: number;
  trickleMs?: number;
  /** Bytes let through per `trickleMs` (default 1). */
  trickleBytes?: number;
}

export interface V4Proxy {
  port: number;
  armed: boolean;
  opts: V4ProxyOptions;
  close(): Promise<void>;
}

/** Bytes a trickled sender may have queued in the proxy before its socket is paused. */
const TRICKLE_QUEUE = 1024 * 1024;

export async function startV4Proxy(opts: V4ProxyOptions): Promise<V4Proxy> {
  const sockets = new Set<net.Socket>();
  const proxy: V4Proxy = { port: 0, armed: true, opts, close: async () => {} };
  const server = net.createServer((client) => {
    const upstream = net.connect(opts.targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const armed = proxy.armed;
    let seen = 0;
    const queued: Buffer[] = [];
    let queuedBytes = 0;
    let drip: NodeJS.Timeout | null = null;
    /** The first `n` queued bytes (fewer when fewer are queued), taken off the queue. */
    const take = (n: number): Buffer => {
      const parts: Buffer[] = [];
      for (let left = n; left > 0 && queued.length > 0; ) {
        const head = queued[0]!;
        const part = head.subarray(0, left);
        parts.push(part);
        left -= part.length;
        if (part.length === head.length) queued.shift();
        else queued[0] = head.subarray(part.length);
      }
      const out = Buffer.concat(parts);
      queuedBytes -= out.length;
      return out;
    };
    const kill = () => {
      if (drip) clearInterval(drip);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (proxy.opts.trickleMs !== undefined) {
        queued.push(chunk);
        queuedBytes += chunk.length;
        // A sender with more queued than a few seconds' trickle waits, as on a slow link.
        if (queuedBytes > TRICKLE_QUEUE) client.pause();
        drip ??= setInterval(() => {
          if (queuedBytes === 0) return;
          upstream.write(take(proxy.opts.trickleBytes ?? 1));
          if (queuedBytes <= TRICKLE_QUEUE) client.resume();
        }, proxy.opts.trickleMs);
        return;
      }
      const start = seen;
      seen += chunk.length;
      const { flipAt, cutAfter } = proxy.opts;
      if (armed && cutAfter !== undefined && seen > cutAfter) {
        upstream.write(chunk.subarray(0, Math.max(0, cutAfter - start)), kill);
        return;
      }
      if (armed && flipAt !== undefined && flipAt >= start && flipAt < seen) {
        const copy = Buffer.from(chunk);
        copy[flipAt - start]! ^= 0x01;
        upstream.write(copy);
        return;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', kill);
    upstream.on('close', kill);
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.port = (server.address() as net.AddressInfo).port;
  proxy.close = () =>
    new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return proxy;
}

/**
 * TEST ONLY: what a version 3 server does with a v4 client, in front of our server: a first
 * frame with version byte 4 gets a v3 1607 and the connection is closed; v3 connections are
 * relayed to `targetPort` unchanged. (The reference Python servers do the same or just close.)
 */
export async function startV3OnlyFront(
  targetPort: number,
): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('error', () => {});
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (head.length < 17) return;
      client.off('data', onData);
      if (head[16] === 4) {
        client.end(Buffer.from([3, 0x47, 6, 0, 0, 0, 0]));
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      sockets.add(upstream);
      upstream.on('error', () => client.destroy());
      upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
    };
    client.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
