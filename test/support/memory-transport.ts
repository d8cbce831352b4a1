/**
 * An in-memory lib/client Transport for tests: sends reach the far end synchronously, what the
 * far end writes queues for receive(). The far end is whatever `accept` sets up (the fake
 * server, or a contract test's peer). It keeps the contract of lib/client/transport.ts.
 */
import { ClientError } from '../../lib/client/errors';
import { ReceiveQueue } from '../../lib/client/receive-queue';
import type { Transport } from '../../lib/client/transport';

/** The far end as the transport drives it. */
export interface MemoryPeer {
  /** Bytes the client sent. */
  push(bytes: Uint8Array): void;
  /** The client closed. */
  end(): void;
}

/** Sets up the far end: `write` delivers bytes to the client, `close` closes from that side. */
export type MemoryAccept = (write: (bytes: Uint8Array) => void, close: () => void) => MemoryPeer;

export class MemoryTransport implements Transport {
  readonly #received = new ReceiveQueue();
  readonly #peer: MemoryPeer;
  #closed = false;

  constructor(accept: MemoryAccept) {
    this.#peer = accept(
      // A copy: the far end may reuse its buffer, a received chunk belongs to the caller.
      (bytes) => this.#received.push(bytes.slice()),
      () => this.#shut(),
    );
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  send(parts: readonly Uint8Array[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new ClientError('CLIENT_ERR_CONNECTION_CLOSED', 'The connection is closed.'));
    }
    for (const part of parts) this.#peer.push(part);
    return Promise.resolve();
  }

  receive(): Promise<Uint8Array | null> {
    return this.#received.receive();
  }

  close(): void {
    if (this.#closed) return;
    this.#peer.end();
    this.#received.discard();
    this.#closed = true;
  }

  #shut(): void {
    this.#closed = true;
    this.#received.end();
  }
}
