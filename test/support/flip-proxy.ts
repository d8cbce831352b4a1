/**
 * TEST ONLY: a TCP proxy that corrupts file content on its way to the server, to drive the
 * CRC mismatch path (1030 x3 + 1031), for the CLI tests and the e2e system alike. It follows
 * the client -> server request framing (header 23 bytes, then payload) and XORs one byte of
 * the 1028 content, counted as an offset into the file's ciphertext, in each of the first
 * `corruptSequences` 1028 sequences while `flip` is on. Server -> client bytes pass
 * unchanged. Bytes are forwarded as they arrive (no buffering). Switchable while it runs:
 * `flip`, and `slow` (client -> server bytes at `bytesPerSecond`, so an upload lasts long
 * enough to be cancelled or watched); `dropConnections()` cuts every open connection (as a
 * server restart or a network drop would); `v3Only` makes the server behind it look like a
 * version 3 server to connections opened from then on: a first frame of version 4 (a v4
 * ClientHello, after the bridge's PROXY header) is answered with v3's 1607 and closed
 * (`'answer'`, as our v3 code and the reference servers do) or closed without a byte
 * (`'close'`), and never reaches the server; v3 connections pass as before.
 *
 * Note: corrupting a ciphertext byte garbles its 16-byte block and flips a byte in the next
 * one; keep `flipOffset` out of the last two blocks so the padding stays valid and the
 * server answers 1603 with a wrong CRC rather than 1607.
 */
import net from 'node:net';
import { REQUEST_HEADER_SIZE, RequestCode, SEND_FILE_FIXED_SIZE } from '../../lib/protocol';
import { ProxyHeaderDecoder } from '../../platform/proxy-protocol';

export interface FlipProxyOptions {
  targetHost?: string;
  targetPort: number;
  /** Offset into the file's ciphertext of the byte to flip (default 0). */
  flipOffset?: number;
  /** How many 1028 sequences (attempts) to corrupt, counted over all connections (default: all). */
  corruptSequences?: number;
  /** XOR mask applied to the byte (default 0xff). */
  mask?: number;
  /** Asked as each 1028 sequence starts: corrupt this one? (default: always). */
  enabled?: () => boolean;
  /** Whether the proxy starts flipping (default true; switch with `FlipProxy.flip`). */
  flip?: boolean;
}

export interface FlipProxy {
  port: number;
  /** Corrupt the sequences that start from now on. */
  flip: boolean;
  /** Relay client -> server bytes at `bytesPerSecond`. */
  slow: boolean;
  bytesPerSecond: number;
  /** Sequences corrupted so far. */
  readonly corrupted: number;
  /** 1028 sequences seen so far. */
  readonly sequences: number;
  /** Connections accepted so far (e.g. to prove a refused client never reached the server). */
  readonly connections: number;
  /** Act as a version 3 server towards v4 ClientHellos (connections opened from now on). */
  v3Only: false | 'answer' | 'close';
  /** First frames of version 4 refused while `v3Only` was on. */
  readonly v4Refused: number;
  /** Cuts every open connection. */
  dropConnections(): void;
  close(): Promise<void>;
}

/** A version 3 server's answer to a frame of another version: 1607 (general error), no payload. */
export const V3_GENERAL_ERROR = Uint8Array.from([3, 0x47, 0x06, 0, 0, 0, 0]);

/**
 * One connection's gate for `v3Only`: give it the client's chunks until it decides. It
 * answers `wait` (more bytes needed), `v4` (the first frame's version byte, offset 16 after
 * any PROXY v2 header, is 4) or `pass` with every byte held so far, to forward in order.
 */
export function createVersionGate(): (chunk: Uint8Array) => 'wait' | 'v4' | { pass: Uint8Array } {
  let held = new Uint8Array(0);
  let proxyHeader: ProxyHeaderDecoder | null = new ProxyHeaderDecoder();
  let requestStart: number | undefined;
  return (chunk) => {
    const joined = new Uint8Array(held.length + chunk.length);
    joined.set(held);
    joined.set(chunk, held.length);
    held = joined;
    if (proxyHeader) {
      try {
        const done = proxyHeader.push(chunk);
        if (!done) return 'wait';
        requestStart = held.length - done.rest.length;
      } catch {
        requestStart = 0;
      }
      proxyHeader = null;
    }
    const at = (requestStart ?? 0) + 16;
    if (held.length <= at) return 'wait';
    return held[at] === 4 ? 'v4' : { pass: held };
  };
}

/** Offset of PacketNumber (u16) inside the 1028 payload. */
const PACKET_NUMBER_OFFSET = 8;

/** Counts shared by the corrupters of all connections of one proxy. */
export interface CorruptionStats {
  corrupted: number;
  sequences: number;
}

/**
 * One connection's client -> server stream walker: call it with each chunk, in order; it
 * flips the chosen content byte in place. `stats` is shared across connections.
 */
export function createRequestCorrupter(
  opts: Pick<FlipProxyOptions, 'flipOffset' | 'corruptSequences' | 'mask' | 'enabled'>,
  stats: CorruptionStats = { corrupted: 0, sequences: 0 },
): (chunk: Uint8Array) => void {
  const flipOffset = opts.flipOffset ?? 0;
  const limit = opts.corruptSequences ?? Number.POSITIVE_INFINITY;
  const mask = opts.mask ?? 0xff;
  const header = new Uint8Array(REQUEST_HEADER_SIZE);
  const headerView = new DataView(header.buffer);
  let headerFill = 0;
  let code = 0;
  let payloadLeft = 0;
  /** Position inside the current payload. */
  let payloadPos = 0;
  /** The start of the 1028 fixed part, up to and including PacketNumber. */
  const fixed = new Uint8Array(PACKET_NUMBER_OFFSET + 2);
  const fixedView = new DataView(fixed.buffer);
  let lastPacketNumber = -1;
  /** Ciphertext offset (within its file) of the current packet's first content byte. */
  let packetBase = 0;
  let corruptThisSequence = false;

  /** Called once the packet number of a 1028 is known. */
  const startPacket = (): void => {
    const packetNumber = fixedView.getUint16(PACKET_NUMBER_OFFSET, true);
    // Packet 1 starts a sequence, or packet 0 for clients counting from 0.
    if (packetNumber === 0 || (packetNumber === 1 && lastPacketNumber !== 0)) {
      stats.sequences++;
      packetBase = 0;
      corruptThisSequence = stats.corrupted < limit && (opts.enabled?.() ?? true);
      if (corruptThisSequence) stats.corrupted++;
    }
    lastPacketNumber = packetNumber;
  };

  // The bridge starts each connection with a PROXY v2 header: skip it, then walk requests.
  let proxyHeader: ProxyHeaderDecoder | null = new ProxyHeaderDecoder();
  return (whole: Uint8Array) => {
    let chunk = whole;
    if (proxyHeader) {
      try {
        const done = proxyHeader.push(chunk);
        if (!done) return;
        chunk = done.rest;
      } catch {
        // Not a PROXY header (it fails at its first byte): the stream is requests from the start.
      }
      proxyHeader = null;
    }
    let at = 0;
    while (at < chunk.length) {
      if (headerFill < REQUEST_HEADER_SIZE) {
        const take = Math.min(REQUEST_HEADER_SIZE - headerFill, chunk.length - at);
        header.set(chunk.subarray(at, at + take), headerFill);
        headerFill += take;
        at += take;
        if (headerFill < REQUEST_HEADER_SIZE) return;
        code = headerView.getUint16(17, true);
        payloadLeft = headerView.getUint32(19, true);
        payloadPos = 0;
        if (payloadLeft === 0) headerFill = 0;
        continue;
      }
      const take = Math.min(payloadLeft, chunk.length - at);
      if (code === RequestCode.SendFile) {
        // Fixed part: collect the bytes up to PacketNumber.
        for (let pos = payloadPos; pos < Math.min(fixed.length, payloadPos + take); pos++) {
          fixed[pos] = chunk[at + pos - payloadPos]!;
          if (pos === fixed.length - 1) startPacket();
        }
        // Content part of this segment, as file offsets [from, to).
        const from = packetBase + Math.max(0, payloadPos - SEND_FILE_FIXED_SIZE);
        const to = packetBase + Math.max(0, payloadPos + take - SEND_FILE_FIXED_SIZE);
        if (corruptThisSequence && flipOffset >= from && flipOffset < to) {
          chunk[at + (flipOffset - packetBase + SEND_FILE_FIXED_SIZE - payloadPos)]! ^= mask;
        }
      }
      payloadPos += take;
      payloadLeft -= take;
      at += take;
      if (payloadLeft === 0) {
        if (code === RequestCode.SendFile) packetBase += payloadPos - SEND_FILE_FIXED_SIZE;
        headerFill = 0;
      }
    }
  };
}

export function startFlipProxy(opts: FlipProxyOptions): Promise<FlipProxy> {
  const stats: CorruptionStats = { corrupted: 0, sequences: 0 };
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let v4Refused = 0;
  const dropConnections = () => {
    for (const s of sockets) s.destroy();
  };
  const server = net.createServer();
  // The switches are plain fields the relay reads as each chunk or sequence arrives.
  const proxy: FlipProxy = {
    port: 0,
    flip: opts.flip ?? true,
    slow: false,
    bytesPerSecond: 256 * 1024,
    get corrupted() {
      return stats.corrupted;
    },
    get sequences() {
      return stats.sequences;
    },
    get connections() {
      return connections;
    },
    v3Only: false,
    get v4Refused() {
      return v4Refused;
    },
    dropConnections,
    close: () =>
      new Promise<void>((done) => {
        dropConnections();
        server.close(() => done());
      }),
  };

  server.on('connection', (client: net.Socket) => {
    connections += 1;
    const upstream = net.connect({ host: opts.targetHost ?? '127.0.0.1', port: opts.targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const corrupt = createRequestCorrupter(
      { ...opts, enabled: () => proxy.flip && (opts.enabled?.() ?? true) },
      stats,
    );
    client.pause();
    upstream.once('connect', () => client.resume());
    const v3Only = proxy.v3Only;
    let gate = v3Only ? createVersionGate() : null;
    client.on('data', (data: Buffer) => {
      let chunk = data;
      if (gate) {
        const seen = gate(chunk);
        if (seen === 'wait') return;
        gate = null;
        if (seen === 'v4') {
          v4Refused += 1;
          // Nothing reached the server (not even the PROXY header); it is let go once the answer is out.
          const drop = () => upstream.destroy();
          if (v3Only === 'answer') client.end(V3_GENERAL_ERROR, drop);
          else client.end(drop);
          return;
        }
        chunk = Buffer.from(seen.pass);
      }
      corrupt(chunk);
      if (proxy.slow) {
        // Hold reads for as long as this chunk takes at the set rate.
        client.pause();
        setTimeout(
          () => {
            if (upstream.write(chunk)) client.resume();
          },
          (chunk.length / proxy.bytesPerSecond) * 1000,
        );
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    const done = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', done);
    upstream.on('close', done);
    client.on('error', done);
    upstream.on('error', done);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      proxy.port = (server.address() as net.AddressInfo).port;
      resolve(proxy);
    });
  });
}
