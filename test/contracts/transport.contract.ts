/**
 * The one contract suite every lib/client Transport passes (the contract is the doc comment of
 * lib/client/transport.ts). A transport's test calls describeTransportContract with a factory
 * that opens a connected transport and hands back the far end that plays the server.
 */
import { describe, expect, it } from 'vitest';
import type { Transport } from '../../lib/client/transport';

/** The far end of a connected transport, as the server would see it. */
export interface TransportPeer {
  /** Sends bytes to the transport (one message on a WebSocket). */
  write(bytes: Uint8Array): void;
  /** Resolves with every byte the transport sent so far, once there are at least `n`. */
  bytes(n: number): Promise<Uint8Array>;
  /** Closes from the server's side, after what was written. */
  close(): void;
  /** The connection fails under the transport: no closing handshake. */
  drop(): void;
  /** Stops reading, so the transport's sends back up (only where `backpressure` is set). */
  stall?(): void;
  /** Resolves once the far end saw the connection close. */
  readonly closed: Promise<void>;
}

export interface TransportUnderTest {
  /** Opens a transport and its peer; the suite closes the transport after each test. */
  connect(): Promise<{ transport: Transport; peer: TransportPeer }>;
  /** The `code` of the error send() rejects with once the connection is closed. */
  closedCode: string;
  /** Whether send() waits when the peer stops reading (false for the in-memory one). */
  backpressure: boolean;
}

const bytes = (...values: number[]) => new Uint8Array(values);

/** Takes chunks until `n` bytes arrived, or null. */
async function receiveBytes(t: Transport, n: number): Promise<number[]> {
  const got: number[] = [];
  while (got.length < n) {
    const chunk = await t.receive();
    if (chunk === null) break;
    got.push(...chunk);
  }
  return got;
}

/** Everything until the end of the stream. */
async function receiveAll(t: Transport): Promise<number[]> {
  const got: number[] = [];
  for (let chunk = await t.receive(); chunk !== null; chunk = await t.receive()) got.push(...chunk);
  return got;
}

/** Whether `p` settles within a few event-loop turns. */
async function settlesSoon(p: Promise<unknown>, ms = 30): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
}

export function describeTransportContract(name: string, subject: TransportUnderTest): void {
  describe(`${name}: the transport contract`, () => {
    const open = () => subject.connect();

    it('sends the parts of each frame in order, also when called again before the last send settled', async () => {
      const { transport, peer } = await open();
      const first = transport.send([bytes(1, 2), bytes(3)]);
      const second = transport.send([bytes(4), bytes(5, 6)]);
      await Promise.all([first, second]);
      expect([...(await peer.bytes(6))]).toEqual([1, 2, 3, 4, 5, 6]);
      transport.close();
    });

    it("receives the peer's bytes in order", async () => {
      const { transport, peer } = await open();
      peer.write(bytes(1, 2));
      peer.write(bytes(3));
      peer.write(bytes(4, 5, 6));
      expect(await receiveBytes(transport, 6)).toEqual([1, 2, 3, 4, 5, 6]);
      transport.close();
    });

    it('answers receive() calls made before the previous one settled in call order', async () => {
      const { transport, peer } = await open();
      const calls: Promise<Uint8Array | null>[] = [];
      expect(() => calls.push(transport.receive(), transport.receive())).not.toThrow();
      const [r1, r2] = calls as [Promise<Uint8Array | null>, Promise<Uint8Array | null>];
      peer.write(bytes(7));
      expect([...((await r1) ?? [])]).toEqual([7]);
      expect(await settlesSoon(r2)).toBe(false);
      peer.write(bytes(8));
      expect([...((await r2) ?? [])]).toEqual([8]);
      transport.close();
    });

    it('the peer closing: what arrived before is received, then null for good; send() rejects', async () => {
      const { transport, peer } = await open();
      peer.write(bytes(1, 2, 3));
      peer.close();
      expect(await receiveAll(transport)).toEqual([1, 2, 3]);
      expect(await transport.receive()).toBeNull();
      expect(await transport.receive()).toBeNull();
      await expect(transport.send([bytes(1)])).rejects.toMatchObject({ code: subject.closedCode });
      transport.close();
    });

    it('a connection that fails: a waiting receive() resolves null, later sends reject', async () => {
      const { transport, peer } = await open();
      const waiting = transport.receive();
      peer.drop();
      expect(await waiting).toBeNull();
      await expect(transport.send([bytes(1)])).rejects.toMatchObject({ code: subject.closedCode });
    });

    it.runIf(subject.backpressure)(
      'send() waits while the peer does not read, and never hangs once the connection failed',
      async () => {
        const { transport, peer } = await open();
        peer.stall?.();
        const part = new Uint8Array(1024 * 1024);
        let blocked: Promise<void> | undefined;
        for (let i = 0; i < 256 && !blocked; i++) {
          const sending = transport.send([part]);
          sending.catch(() => {});
          if (!(await settlesSoon(sending, 50))) blocked = sending;
        }
        expect(blocked).toBeDefined();
        peer.drop();
        // It rejects, unless its bytes left before the transport learnt of the failure.
        const outcome = await blocked!.then(
          () => 'sent',
          (e: { code?: string }) => e.code,
        );
        expect(['sent', subject.closedCode]).toContain(outcome);
        expect(await transport.receive()).toBeNull();
        await expect(transport.send([bytes(1)])).rejects.toMatchObject({ code: subject.closedCode });
      },
    );

    it('close(): pending and later receive() resolve null at once, unread bytes are dropped', async () => {
      const { transport, peer } = await open();
      peer.write(bytes(9, 9));
      // Let the bytes arrive (unread) before closing.
      await new Promise((r) => setTimeout(r, 50));
      transport.close();
      expect(await transport.receive()).toBeNull();
      const { transport: other } = await open();
      const pending = [other.receive(), other.receive()];
      other.close();
      expect(await Promise.all(pending)).toEqual([null, null]);
    });

    it('close() is idempotent, never throws, reaches the peer, and later sends reject', async () => {
      const { transport, peer } = await open();
      expect(() => {
        transport.close();
        transport.close();
      }).not.toThrow();
      await expect(transport.send([bytes(1)])).rejects.toMatchObject({ code: subject.closedCode });
      await peer.closed;
      expect(await transport.receive()).toBeNull();
    });
  });
}
