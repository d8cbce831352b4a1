/**
 * What the client session needs from a connection, and what every transport promises. The
 * CLI implements it over TCP (cli/tcp-transport.ts) and over a WebSocket (cli/ws-transport.ts),
 * the browser over its WebSocket (browser/ws-transport.ts), the tests in memory
 * (test/support/memory-transport.ts); each passes the one contract suite in
 * test/contracts/transport.contract.ts. The receive side is the shared ReceiveQueue.
 *
 * Bytes. send() takes the parts of whole request frames: exactly one in v3, one or more in v4
 * (up to four Chunk frames together; a WebSocket carries each call as one message, which the
 * bridge checks as whole frames). The caller hands them over and does not change them
 * afterwards (TCP writes later from the same memory). receive() yields the server's bytes in
 * order, split anywhere (the session decodes incrementally); a chunk it returns belongs to
 * the caller.
 *
 * Concurrency. send() may be called again before the previous call settled: frames leave in
 * call order. receive() may be called again before the previous call settled: calls are
 * answered in call order, each with the next chunk. No call throws synchronously.
 *
 * Closing. close() is idempotent, never throws and takes effect at once: every pending and
 * later receive() resolves null (bytes not yet received are dropped) and send() rejects.
 * When the peer closes or the connection fails, the bytes that arrived before are still
 * received, then receive() resolves null, and keeps doing so.
 *
 * Errors. receive() never rejects: the end of the stream is null, whatever the cause (a
 * transport may keep the cause, e.g. a WebSocket close code). send() rejects only once the
 * connection is closed, by either side, with the adapter's own "connection closed" error. A
 * send() waiting on backpressure never outlives the connection: it rejects when the close
 * comes first, or resolves when its bytes left before the transport learnt of a failure (the
 * next call then fails). That error is a ClientError CLIENT_ERR_CONNECTION_CLOSED in the CLI
 * and the tests, a BrowserError BROWSER_ERR_CONNECTION_LOST in the browser (one error type per
 * layer). The session turns any send or receive failure into CLIENT_ERR_CONNECTION_CLOSED with
 * that error as `cause`, so callers of the session see one code whatever the transport.
 * Opening is each transport's own static connect(), which rejects with an "unreachable" error
 * (CLIENT_ERR_UNREACHABLE, BROWSER_ERR_BRIDGE_UNREACHABLE).
 */
export interface Transport {
  /**
   * Sends bytes that belong to request frames. Resolves when the transport can take more
   * (backpressure: socket drained / WebSocket bufferedAmount under its mark). `parts` are
   * the pieces of whole frames (one in v3, up to four Chunks in v4), to be written without
   * concatenation where possible; a WebSocket transport sends them as one message.
   */
  send(parts: readonly Uint8Array[]): Promise<void>;
  /** Next bytes from the server, in order; null once the connection has closed. */
  receive(): Promise<Uint8Array | null>;
  /** Closes the connection at once; pending receive() calls resolve null. */
  close(): void;
}
