/**
 * TEST ONLY: a hostile protocol v4 file server on 127.0.0.1, for attacking our clients. It
 * answers the preamble and ClientHello with a real handshake under its own Ed25519 key (so
 * the CLI pins it on first use like any server) and then hands the connection to the test's
 * `script`, which may misbehave in any way: never answer, drip bytes, send Alerts or sealed
 * Errors with hostile reasons. `beforeHandshake` runs instead of the handshake when given
 * (a server that accepts and says nothing, or answers garbage).
 */
import net from 'node:net';
import {
  CLIENT_ID_SIZE_V4,
  CLIENT_TO_SERVER_FRAMES,
  FrameType,
  MessageType,
} from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import type { Frame } from '../../lib/protocol/v4/frames';
import type { Message } from '../../lib/protocol/v4/messages';
import { ServerHandshake } from '../../lib/v4/handshake';
import { generateSigningKey } from '../../lib/v4/keys';
import type { Session } from '../../lib/v4/session';

export interface HostileConnection {
  socket: net.Socket;
  session: Session;
  /** The next frame from the client (null once it closed). */
  nextFrame(): Promise<Frame | null>;
  /** The next Sealed message from the client, opened (null once it closed). */
  nextMessage(): Promise<Message | null>;
  /** Seals `m` and writes it. */
  send(m: Message): Promise<void>;
}

export interface HostileV4Server {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export interface HostileV4Options {
  /** Replaces the handshake: the raw socket is the test's from the first byte. */
  beforeHandshake?(socket: net.Socket): void;
  /** Runs after the helper sent Welcome (a zero client ID, registered). */
  script?(conn: HostileConnection): Promise<void> | void;
}

export async function startHostileV4Server(opts: HostileV4Options): Promise<HostileV4Server> {
  const identity = await generateSigningKey(false);
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    if (opts.beforeHandshake) {
      opts.beforeHandshake(socket);
      return;
    }
    void serve(socket).catch(() => socket.destroy());
  });

  async function serve(socket: net.Socket): Promise<void> {
    const decoder = new FrameDecoder({ allowed: CLIENT_TO_SERVER_FRAMES, preamble: true });
    const frames: Frame[] = [];
    const waiters: ((f: Frame | null) => void)[] = [];
    let ended = false;
    socket.on('data', (chunk) => {
      for (const f of decoder.push(chunk)) {
        const w = waiters.shift();
        if (w) w(f);
        else frames.push(f);
      }
    });
    socket.on('close', () => {
      ended = true;
      for (const w of waiters.splice(0)) w(null);
    });
    const nextFrame = (): Promise<Frame | null> => {
      const f = frames.shift();
      if (f) return Promise.resolve(f);
      if (ended) return Promise.resolve(null);
      return new Promise((r) => waiters.push(r));
    };
    const hs = new ServerHandshake({ identity });
    let session: Session | null = null;
    while (session === null) {
      const f = await nextFrame();
      if (f === null) return;
      const step = await hs.onFrame(f);
      if (step.send) socket.write(step.send);
      if (step.done) session = step.done.session;
    }
    const s = session;
    const conn: HostileConnection = {
      socket,
      session: s,
      nextFrame,
      async nextMessage() {
        for (;;) {
          const f = await nextFrame();
          if (f === null) return null;
          if (f.type === FrameType.Sealed) return s.open(f.body);
        }
      },
      async send(m) {
        socket.write(await s.seal(m));
      },
    };
    await conn.send({
      type: MessageType.Welcome,
      clientId: new Uint8Array(CLIENT_ID_SIZE_V4),
      registered: true,
      maxFileSize: 2 ** 40,
    });
    await opts.script?.(conn);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
