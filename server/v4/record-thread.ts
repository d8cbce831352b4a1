/**
 * The process's record thread (record-thread-worker.mjs): v4 records are opened and hashed
 * there, while the event loop reads sockets and writes files. One thread for every upload of
 * the process, started at the first v4 handshake and never keeping the process alive; the answers come in
 * the order of the requests, so one queue of waiters serves every stream.
 *
 * A record's buffer moves to the thread and back without a copy (transferred), and the
 * plaintext comes with it in a buffer of its own: the caller can reuse the sealed buffer at
 * once (record-writer.ts gives it to recordBodies). If the thread
 * dies, every request of its streams fails with RecordThreadFailure (the uploads in progress
 * end with Error 14, storage failed) and the next stream starts a new thread.
 */
import { Worker } from 'node:worker_threads';
import type { RecordReply, RecordRequest } from './record-thread-worker.mjs';

const WORKER_URL = new URL('./record-thread-worker.mjs', import.meta.url);

/** The record thread stopped: the stream cannot go on (its hash state is gone with it). */
export class RecordThreadFailure extends Error {}

type Waiter = { resolve: (r: RecordReply) => void; reject: (e: Error) => void };

class ThreadHandle {
  readonly worker: Worker;
  readonly #waiters: Waiter[] = [];
  #failure: RecordThreadFailure | null = null;

  constructor(onGone: () => void) {
    // No loader and no flags of the parent's: the module is plain JavaScript.
    this.worker = new Worker(WORKER_URL, { execArgv: [] });
    this.worker.on('message', (r: RecordReply) => {
      this.#waiters.shift()?.resolve(r);
      if (this.#waiters.length === 0) this.worker.unref();
    });
    const gone = (why: string) => {
      if (this.#failure) return;
      this.#failure = new RecordThreadFailure(`The record thread stopped (${why}).`);
      onGone();
      for (const w of this.#waiters.splice(0)) w.reject(this.#failure);
    };
    this.worker.on('error', (e) => gone(e.message));
    this.worker.on('exit', (code) => gone(`exit code ${code}`));
    // Held open only while an answer is awaited (ask); unref after the listeners, since adding
    // a 'message' listener refs the worker again.
    this.worker.unref();
  }

  get failed(): boolean {
    return this.#failure !== null;
  }

  post(m: RecordRequest, transfer: ArrayBuffer[] = []): void {
    if (this.#failure) return;
    this.worker.postMessage(m, transfer);
  }

  ask(m: RecordRequest, transfer: ArrayBuffer[] = []): Promise<RecordReply> {
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      if (this.#waiters.length === 0) this.worker.ref();
      this.#waiters.push({ resolve, reject });
      this.worker.postMessage(m, transfer);
    });
  }
}

let current: ThreadHandle | null = null;
let nextId = 1;

function thread(): ThreadHandle {
  if (current && !current.failed) return current;
  const handle: ThreadHandle = new ThreadHandle(() => {
    if (current === handle) current = null;
  });
  current = handle;
  return handle;
}

/**
 * Starts the record thread now if it is not running (a v4 handshake calls it): a thread
 * takes 35-60 ms to start here, which the first upload would otherwise wait for after its
 * UploadReady. Returns the thread's ID.
 */
export function startRecordThread(): number {
  return thread().worker.threadId;
}

/** True when `b` is the whole of its ArrayBuffer (so it can be transferred as it is). */
function ownsBuffer(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer;
}

/** One upload's records on the record thread, opened in the order given. */
export class RecordStream {
  readonly #thread: ThreadHandle;
  readonly #id = nextId++;
  #ended = false;

  /** `key`: the record key (AES-256); `hash`: keep the SHA-256 of the plaintexts. */
  constructor(key: Uint8Array, hash: boolean) {
    this.#thread = thread();
    this.#thread.post({ op: 'begin', id: this.#id, key, hash });
  }

  /**
   * The plaintext of `sealed` (ciphertext || tag) under `nonce`, and `sealed`'s memory given
   * back (a new Buffer over it, free to reuse: `sealed` itself is detached once sent, unless it
   * shares its ArrayBuffer, in which case a copy is sent). Rejects with the reason when it
   * does not verify, RecordThreadFailure when the thread stopped.
   */
  async open(nonce: Uint8Array, sealed: Uint8Array): Promise<{ plain: Buffer; sealed: Buffer }> {
    if (this.#ended) throw new RecordThreadFailure('The record stream has ended.');
    // A copy of its own (not Buffer#slice, a view): a small Buffer shares Node's pool slab.
    const owned = ownsBuffer(sealed) ? sealed : new Uint8Array(sealed);
    const r = await this.#thread.ask({ op: 'open', id: this.#id, nonce, sealed: owned }, [
      owned.buffer as ArrayBuffer,
    ]);
    if (!('ok' in r)) throw new RecordThreadFailure('The record thread answered out of turn.');
    if (!r.ok) throw new Error(r.reason);
    return { plain: Buffer.from(r.plain), sealed: Buffer.from(r.buffer) };
  }

  /** The SHA-256 of every plaintext opened (null without `hash`); the stream ends. */
  async digest(): Promise<Uint8Array | null> {
    if (this.#ended) return null;
    this.#ended = true;
    const r = await this.#thread.ask({ op: 'digest', id: this.#id });
    if (!('digest' in r)) throw new RecordThreadFailure('The record thread answered out of turn.');
    return r.digest;
  }

  /** Ends the stream (its state on the thread goes); later opens fail. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#thread.post({ op: 'end', id: this.#id });
  }
}

/** Stops the thread as if it had died (tests); the next stream starts a new one. */
export async function stopRecordThread(): Promise<void> {
  await current?.worker.terminate();
}
