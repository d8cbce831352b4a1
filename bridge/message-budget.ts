/**
 * Memory a client may pin at the bridge: `ws` buffers a WebSocket message until it is complete
 * (up to --max-payload, 16 MiB), so 16 unfinished messages from one address held 256 MiB. Each
 * connection's unfinished bytes are counted against a budget per source (IPv4 address, IPv6
 * /64) and in total (KeyedBudget); a chunk that would pass either closes that connection (4004).
 *
 * The count is read off the socket around ws's own 'data' listener, since ws does not expose
 * it: ws's listener is wrapped, so each chunk is counted before ws sees it (and one that would
 * pass the budget never reaches ws, nor does anything after it), each complete message
 * subtracts its length, and once ws has read the chunk the count is capped at that chunk if a
 * message completed in it (what is left after a message is at most that chunk). Both are
 * upper bounds, so the count never undercounts. ws emits messages synchronously inside its
 * 'data' listener (allowSynchronousEvents, the default of ws 8). A chunk is counted at least
 * MIN_CHUNK_COST bytes and each fragment of the message in progress FRAGMENT_COST, for what
 * holding them costs besides their bytes.
 */
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { KeyedBudget, type Reservation } from '../platform/concurrency-limit';
import { IdleCollector } from '../platform/idle-gc';
import { FragmentCounter } from './ws-fragments';

/**
 * Unfinished bytes let go (connections closed mid-message) that are worth a collection once
 * the bridge is quiet: otherwise an idle bridge keeps a flood's buffers (platform/idle-gc.ts).
 */
const COLLECT_AFTER_BYTES = 4 * 1024 * 1024;
const COLLECT_DELAY_MS = 2000;

/**
 * What the bridge pays for one chunk read off a socket beyond its bytes: ws keeps every chunk
 * of an unfinished frame as its own Buffer (up to 262,144 per connection, ws's
 * maxBufferedChunks), each with its own ArrayBuffer and backing store: about 1.1 KB of RSS
 * per one-byte chunk in Node 20 (12,083 of them held: +12.6 MiB). Counted by their bytes
 * alone, one-byte TCP segments of one unfinished message passed for nothing: 8 connections
 * from one address took the bridge's RSS up by 299 MiB while 3.7 MiB were counted against its
 * 32 MiB. A chunk below this size is counted as this size; full-size segments (1,448 bytes on
 * Ethernet) and larger reads are counted as before.
 */
export const MIN_CHUNK_COST = 1024;

const chunkCost = (chunk: Buffer): number => Math.max(chunk.length, MIN_CHUNK_COST);

/**
 * What one fragment of an unfinished message costs besides its bytes: ws keeps each
 * fragment's data as its own Buffer until the message is whole, up to 16,384 (its
 * maxFragments), and a one-byte fragment is 7 bytes on the wire. 16 connections from one
 * address each sending 16,000 one-byte fragments (1.7 MiB in all) took the bridge's RSS up
 * by 53.5 MiB, about 220 bytes a fragment, all within the 32 MiB budget. Counted from the
 * frame headers before ws reads the chunk (ws-fragments.ts).
 */
export const FRAGMENT_COST = 256;

export interface MessageBudgetOptions {
  perSource: number;
  total: number;
}

export class MessageBudget {
  readonly #budget: KeyedBudget;
  readonly #collector = new IdleCollector({ minBytes: COLLECT_AFTER_BYTES, delayMs: COLLECT_DELAY_MS });

  constructor(options: MessageBudgetOptions) {
    this.#budget = new KeyedBudget({ perKey: options.perSource, total: options.total });
  }

  /** Collections run after unfinished messages were let go (tests). */
  get collections(): number {
    return this.#collector.collections;
  }

  stop(): void {
    this.#collector.stop();
  }

  /** Bytes of unfinished messages held now, in total and by one source. */
  used(source?: string): number {
    return source === undefined ? this.#budget.used : this.#budget.usedBy(source);
  }

  /**
   * Counts the unfinished bytes of `ws` (whose transport is `socket`) under `source`; calls
   * `over` once when a chunk would pass a cap. Install right after the upgrade.
   */
  track(socket: Duplex, ws: WebSocket, source: string, over: () => void): void {
    const got = this.#budget.tryReserve(source, 0);
    if (!got.ok) throw new Error('unreachable: a reservation of 0 always fits');
    const held: Reservation = got.reservation;
    let pending = 0;
    let completed = false;
    let refused = false;
    const fragments = new FragmentCounter();
    /** The unfinished bytes and what the fragments ws holds (or is about to) cost besides. */
    const charged = () => pending + fragments.held * FRAGMENT_COST;
    /** Counts the chunk; false if it would pass the budget (then it, and all after it, stay unread). */
    const before = (chunk: Buffer): boolean => {
      if (refused) return false;
      pending += chunkCost(chunk);
      fragments.push(chunk);
      completed = false;
      if (held.tryResize(charged())) return true;
      refused = true;
      over();
      return false;
    };
    const after = (chunk: Buffer): void => {
      if (completed) pending = Math.min(pending, chunkCost(chunk));
      if (!refused) held.tryResize(Math.min(charged(), held.amount));
    };
    ws.on('message', (data: Buffer) => {
      pending = Math.max(0, pending - data.length);
      completed = true;
    });
    // ws's listener (the only one on an upgraded socket) runs only for a chunk within the
    // budget: a listener before it could count the chunk but not keep it from ws, and one chunk
    // of 7-byte fragments made ws allocate 2 MiB however the count stood.
    const readers = socket.listeners('data') as ((chunk: Buffer) => void)[];
    for (const r of readers) socket.off('data', r);
    const onData = (chunk: Buffer): void => {
      if (!before(chunk)) return;
      for (const r of readers) r.call(socket, chunk);
      after(chunk);
    };
    socket.on('data', onData);
    const release = (): void => {
      socket.off('data', onData);
      this.#collector.released(held.amount); // 0 the second time (socket and ws both close)
      held.release();
    };
    socket.once('close', release);
    ws.once('close', release);
  }
}
