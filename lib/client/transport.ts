/**
 * What the client session needs from a connection. The browser implements it over a
 * WebSocket (one request frame per message), the CLI over TCP.
 */
export interface Transport {
  /**
   * Sends bytes that belong to request frames. Resolves when the transport can take more
   * (backpressure: socket drained / WebSocket bufferedAmount under its mark). `parts` are
   * the pieces of exactly one frame, to be written without concatenation where possible.
   */
  send(parts: readonly Uint8Array[]): Promise<void>;
  /** Next bytes from the server, in order; null once the connection has closed. */
  receive(): Promise<Uint8Array | null>;
  /** Closes the connection; pending receive() resolves null. */
  close(): void;
}
