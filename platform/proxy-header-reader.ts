/**
 * The socket side of the PROXY v2 codec: reads the header at the start of a connection with a
 * deadline, then leaves the socket paused with the bytes after the header put back, so the
 * protocol code reads the stream as if the header had never been there. Used by the server for
 * connections from trusted relay addresses only (see address-match.ts); whether a connection
 * must carry a header is configuration, never guessed from a direct client's bytes.
 */
import type { Socket } from 'node:net';
import { PP2_SIGNATURE, type ProxyHeader, ProxyHeaderDecoder, ProxyProtocolError } from './proxy-protocol';

export interface ReadProxyHeaderOptions {
  /** The whole header must arrive within this many milliseconds. */
  timeoutMs: number;
  /** Largest length field accepted (default PP2_DEFAULT_MAX_LENGTH). */
  maxLength?: number;
  /**
   * A stream whose first bytes are not the signature is passed through (header undefined)
   * instead of failing: for a trusted relay host whose local clients also connect directly. A
   * v3 request starts with a random client ID, so it differs from the 12-byte signature at
   * once; any other error (a bad version, length or TLV after the signature) still fails.
   */
  optional?: boolean;
}

/**
 * Resolves once the header is decoded (or, when optional, once the stream shows it has none);
 * the socket is then paused: attach the protocol's 'data' handler and call socket.resume().
 * Rejects with ProxyProtocolError: a codec code, PP2_TIMEOUT, or PP2_INCOMPLETE when the peer
 * ends or closes first (the spec: reject partial headers); a socket error rejects with itself.
 * It never destroys the socket: log the code and destroy it. Its own 'error' listener goes away
 * when it settles, so attach the connection's 'error' handler before calling it.
 */
export function readProxyHeader(
  socket: Socket,
  options: ReadProxyHeaderOptions,
): Promise<{ header: ProxyHeader | undefined }> {
  return new Promise((resolve, reject) => {
    const decoder = new ProxyHeaderDecoder({ maxLength: options.maxLength });
    const seen: Buffer[] = [];
    const finish = (outcome: () => void): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      // Only bytes that may hold the signature mismatch need keeping for a pass-through.
      if (options.optional && decoder.bytesReceived < PP2_SIGNATURE.length) seen.push(chunk);
      let result: ReturnType<ProxyHeaderDecoder['push']>;
      try {
        result = decoder.push(chunk);
      } catch (e) {
        if (options.optional && e instanceof ProxyProtocolError && e.code === 'PP2_BAD_SIGNATURE') {
          finish(() => {
            socket.unshift(Buffer.concat(seen));
            resolve({ header: undefined });
          });
        } else {
          finish(() => reject(e));
        }
        return;
      }
      if (!result) return;
      const { header, rest } = result;
      finish(() => {
        if (rest.length > 0) socket.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.length));
        resolve({ header });
      });
    };
    const onEnd = (): void =>
      finish(() =>
        reject(
          new ProxyProtocolError(
            'PP2_INCOMPLETE',
            `the peer closed after ${decoder.bytesReceived} bytes of a PROXY header`,
          ),
        ),
      );
    const onError = (e: Error): void => finish(() => reject(e));
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(new ProxyProtocolError('PP2_TIMEOUT', `no PROXY header within ${options.timeoutMs} ms`)),
        ),
      options.timeoutMs,
    );
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
  });
}
