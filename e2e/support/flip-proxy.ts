/**
 * Test-only TCP proxy between the bridge and the file server. Relays bytes unchanged unless
 * told otherwise (switchable while it runs):
 * - `flip`: flips the first content byte of packet 1 of every 1028 sequence, so the server's
 *   CRC differs from the client's (the corrupted ciphertext block decrypts to garbage that is
 *   not the last block, so the padding stays valid and the error shows up as a CRC mismatch);
 * - `slow`: relays client->server bytes at `bytesPerSecond`, so an upload lasts long enough
 *   to be cancelled or watched.
 * The flipping is test/support/flip-proxy.ts's request walker, switched per sequence;
 * responses are relayed unchanged.
 */
import net from 'node:net';
import { type CorruptionStats, createRequestCorrupter } from '../../test/support/flip-proxy';

export interface FlipProxy {
  port: number;
  flip: boolean;
  slow: boolean;
  bytesPerSecond: number;
  /** 1028 sequences corrupted so far. */
  readonly flipped: number;
  /** Cuts every open connection (as a server restart or a network drop would). */
  dropConnections(): void;
  close(): Promise<void>;
}

export async function startFlipProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FlipProxy> {
  const sockets = new Set<net.Socket>();
  const stats: CorruptionStats = { corrupted: 0, sequences: 0 };
  const state = { flip: false, slow: false, bytesPerSecond: 256 * 1024 };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const corrupt = createRequestCorrupter({ flipOffset: 0, enabled: () => state.flip }, stats);
    client.on('data', (chunk: Buffer) => {
      corrupt(chunk);
      if (state.slow) {
        client.pause();
        setTimeout(
          () => {
            upstream.write(chunk);
            client.resume();
          },
          (chunk.length / state.bytesPerSecond) * 1000,
        );
        return;
      }
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => client.resume());
      }
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get flip() {
      return state.flip;
    },
    set flip(on: boolean) {
      state.flip = on;
    },
    get slow() {
      return state.slow;
    },
    set slow(on: boolean) {
      state.slow = on;
    },
    get bytesPerSecond() {
      return state.bytesPerSecond;
    },
    set bytesPerSecond(n: number) {
      state.bytesPerSecond = n;
    },
    get flipped() {
      return stats.corrupted;
    },
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
