/**
 * Test-only TCP proxy between the bridge and the file server. Relays bytes unchanged unless
 * told otherwise (switchable while it runs):
 * - `flip`: flips the first content byte of packet 1 of every 1028 sequence, so the server's
 *   CRC differs from the client's (the corrupted ciphertext block decrypts to garbage that is
 *   not the last block, so the padding stays valid and the error shows up as a CRC mismatch);
 * - `slow`: relays client->server bytes at `bytesPerSecond`, so an upload lasts long enough
 *   to be cancelled or watched.
 * It parses just enough of the request stream (23-byte headers, payload lengths) to find
 * packet numbers; responses are relayed unchanged.
 */
import net from 'node:net';
import { REQUEST_HEADER_SIZE, RequestCode } from '../../lib/protocol';

/** Offset of Packet number in a 1028 frame: header, Content size u32, Orig size u32. */
const PACKET_NUMBER_OFFSET = REQUEST_HEADER_SIZE + 8;
/** Offset of the first content byte: header + 267-byte fixed part of 1028. */
const CONTENT_OFFSET = REQUEST_HEADER_SIZE + 4 + 4 + 2 + 2 + 255;

/** Follows request frames through a byte stream and flips the chosen byte in place. */
class RequestScanner {
  /** First bytes of the current frame (up to CONTENT_OFFSET), for header/packet number. */
  #head = new Uint8Array(CONTENT_OFFSET);
  #pos = 0;
  #frameSize = Number.POSITIVE_INFINITY;
  flipped = 0;

  constructor(private readonly shouldFlip: () => boolean) {}

  scan(chunk: Buffer): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#pos < CONTENT_OFFSET) {
        const take = Math.min(CONTENT_OFFSET - this.#pos, chunk.length - i);
        this.#head.set(chunk.subarray(i, i + take), this.#pos);
        this.#pos += take;
        i += take;
        if (this.#pos >= REQUEST_HEADER_SIZE && this.#frameSize === Number.POSITIVE_INFINITY) {
          const view = new DataView(this.#head.buffer);
          this.#frameSize = REQUEST_HEADER_SIZE + view.getUint32(19, true);
        }
        if (this.#pos >= this.#frameSize) {
          // A short frame (not a 1028): it ended inside the bytes we looked at.
          const over = this.#pos - this.#frameSize;
          i -= over;
          this.#reset();
        }
        continue;
      }
      // Inside the content of a long frame.
      if (this.#pos === CONTENT_OFFSET && this.#isFirstPacket() && this.shouldFlip()) {
        chunk[i] = chunk[i]! ^ 0xff;
        this.flipped++;
      }
      const take = Math.min(this.#frameSize - this.#pos, chunk.length - i);
      this.#pos += take;
      i += take;
      if (this.#pos === this.#frameSize) this.#reset();
    }
  }

  #isFirstPacket(): boolean {
    const view = new DataView(this.#head.buffer);
    const code = view.getUint16(17, true);
    const packet = view.getUint16(PACKET_NUMBER_OFFSET, true);
    return code === RequestCode.SendFile && packet <= 1 && this.#frameSize > CONTENT_OFFSET;
  }

  #reset(): void {
    this.#pos = 0;
    this.#frameSize = Number.POSITIVE_INFINITY;
  }
}

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
  const scanners: RequestScanner[] = [];
  const state = { flip: false, slow: false, bytesPerSecond: 256 * 1024 };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const scanner = new RequestScanner(() => state.flip);
    scanners.push(scanner);
    client.on('data', (chunk: Buffer) => {
      scanner.scan(chunk);
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
      return scanners.reduce((s, x) => s + x.flipped, 0);
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
