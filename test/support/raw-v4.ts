/**
 * A raw protocol v4 client for the review tests: a real handshake over TCP (lib/v4's
 * ClientHandshake), then the Session to seal any message the test likes, with the socket
 * left to the test (pause it to stop reading, write frames as fast as it wants).
 */
import { connect, type Socket } from 'node:net';
import { PREAMBLE_SIZE, SERVER_TO_CLIENT_FRAMES } from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import type { Frame } from '../../lib/protocol/v4/frames';
import type { Message } from '../../lib/protocol/v4/messages';
import { ClientHandshake } from '../../lib/v4/handshake';
import type { KeyPairWithRaw } from '../../lib/v4/keys';
import type { Session } from '../../lib/v4/session';

export interface RawV4 {
  socket: Socket;
  session: Session;
  clientId: Uint8Array;
  maxFileSize: number;
  /** Frames received after Welcome (filled while the socket is read). */
  frames: Frame[];
  /** The next received message (opened); null when the connection closed. */
  next(timeoutMs?: number): Promise<Message | null>;
  /** Writes bytes, waiting for 'drain' when the socket's buffer is full. */
  write(bytes: Uint8Array): Promise<void>;
}

export async function rawV4(
  port: number,
  key: KeyPairWithRaw,
  opts: { name?: string; localAddress?: string; prefix?: Uint8Array } = {},
): Promise<RawV4> {
  const socket = connect({
    host: '127.0.0.1',
    port,
    ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
  });
  socket.setNoDelay(true);
  await new Promise<void>((res, rej) => {
    socket.once('connect', () => res());
    socket.once('error', rej);
  });
  socket.on('error', () => {});
  if (opts.prefix) socket.write(opts.prefix);
  const decoder = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
  const frames: Frame[] = [];
  let waiter: (() => void) | null = null;
  let closed = false;
  socket.on('data', (c: Buffer) => {
    frames.push(...decoder.push(c));
    waiter?.();
  });
  socket.on('close', () => {
    closed = true;
    waiter?.();
  });
  const nextFrame = async (timeoutMs = 10_000): Promise<Frame | null> => {
    const until = Date.now() + timeoutMs;
    while (frames.length === 0) {
      if (closed) return null;
      if (Date.now() > until) throw new Error('no frame in time');
      await new Promise<void>((res) => {
        waiter = res;
        setTimeout(res, 50);
      });
      waiter = null;
    }
    return frames.shift()!;
  };
  const hs = new ClientHandshake({ identity: key, name: opts.name ?? 'reviewer', checkServerKey: () => {} });
  const first = await hs.start();
  socket.write(first.subarray(0, PREAMBLE_SIZE));
  socket.write(first.subarray(PREAMBLE_SIZE));
  for (;;) {
    const f = await nextFrame();
    if (!f) throw new Error('closed during the handshake');
    const step = await hs.onFrame(f);
    if (step.send) socket.write(step.send);
    if (step.done) {
      const session = step.done.session;
      return {
        socket,
        session,
        clientId: step.done.welcome.clientId,
        maxFileSize: step.done.welcome.maxFileSize,
        frames,
        async next(timeoutMs) {
          const f = await nextFrame(timeoutMs);
          if (!f) return null;
          if (f.type !== 3) return { type: 0x7f, code: -f.type, fatal: true, reason: 'alert' } as Message;
          return session.open(f.body);
        },
        write: (bytes) =>
          new Promise<void>((res) => {
            if (socket.write(bytes)) res();
            else socket.once('drain', () => res());
          }),
      };
    }
  }
}
