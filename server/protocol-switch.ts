/**
 * One port, two protocols: the connection's first 23 bytes decide (docs/PROTOCOL.md,
 * "Negotiation"). Only the exact v4 preamble is v4; the decision is v3 at the first byte that
 * differs from the preamble (a v3 header starts with its client ID, zeros in 1025), so a v3
 * peer is handed to the v3 connection, with its timeouts, after its first byte. The bytes
 * read to decide are put back, so the chosen connection sees the stream untouched and v3 is
 * served byte for byte as before.
 */
import type { Socket } from 'node:net';
import { PREAMBLE_SIZE } from '../lib/protocol/v4/constants';
import { encodePreamble } from '../lib/protocol/v4/frames';

const PREAMBLE = encodePreamble();

export type Pick = 3 | 4 | 'closed' | 'idle';

/** Resolves the protocol, or why there is none; the socket is left paused with the bytes unshifted. */
export function pickProtocol(socket: Socket, timeoutMs: number): Promise<Pick> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let have = 0;
    const finish = (result: Pick) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (parts.length > 0) socket.unshift(Buffer.concat(parts));
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      for (let i = 0; i < chunk.length && have + i < PREAMBLE_SIZE; i++) {
        if (chunk[i] !== PREAMBLE[have + i]) {
          parts.push(chunk);
          finish(3);
          return;
        }
      }
      parts.push(chunk);
      have += chunk.length;
      if (have >= PREAMBLE_SIZE) finish(4);
    };
    const onClose = () => finish('closed');
    const timer = setTimeout(() => finish('idle'), timeoutMs);
    timer.unref();
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.resume();
  });
}
