/**
 * AES-256-CBC (zero IV) in a worker thread, so that encryption (the most expensive step,
 * about 2 ms per MiB) runs beside reading, cksum and socket writes on the main thread.
 * Buffers move between the threads by transfer, not copy, whenever a chunk owns its
 * whole ArrayBuffer (fs read streams hand out such chunks).
 *
 * One worker serves every file of the process, one file at a time; results carry the id of
 * the encryptor they belong to, so an abandoned file's late results are dropped.
 */
import { Worker } from 'node:worker_threads';
import type { EncryptorFactory, StreamEncryptor } from '../lib/client';

/** Encryptions in flight per file: enough to keep the worker busy, 4 MiB of plaintext at most. */
const MAX_PENDING = 4;

// Plain CommonJS so the worker needs no TypeScript loader.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createCipheriv } = require('node:crypto');
let id = 0;
let cipher = null;
function reply(out) {
  const owns = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
  const bytes = owns ? out : new Uint8Array(out);
  parentPort.postMessage({ id, bytes, error: null }, [bytes.buffer]);
}
parentPort.on('message', (m) => {
  try {
    if (m.type === 'init') {
      id = m.id;
      cipher = createCipheriv('aes-256-cbc', m.key, new Uint8Array(16));
    } else if (m.type === 'update') {
      reply(cipher.update(m.bytes));
    } else if (m.type === 'final') {
      const out = cipher.final();
      cipher = null;
      reply(out);
    }
  } catch (e) {
    parentPort.postMessage({ id, bytes: null, error: String(e && e.message || e) });
  }
});
`;

interface Reply {
  id: number;
  bytes: Uint8Array | null;
  error: string | null;
}

interface Waiter {
  resolve(bytes: Uint8Array): void;
  reject(e: Error): void;
}

export class WorkerAesPool {
  #worker: Worker | null = null;
  #nextId = 1;
  #currentId = 0;
  /** Results the current encryptor is waiting for, in call order. */
  #waiters: Waiter[] = [];

  /** The factory lib/client's session uses; one active encryptor at a time. */
  readonly factory: EncryptorFactory = (key) => this.#create(key);

  /** Stops the worker (the process can then exit). */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    this.#fail(new Error('The encryption worker was stopped.'));
    if (w) await w.terminate();
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(WORKER_SOURCE, { eval: true });
    w.on('message', (m: Reply) => {
      if (m.id !== this.#currentId) return; // a late result of an abandoned file
      const waiter = this.#waiters.shift();
      if (!waiter) return;
      if (m.error !== null || !m.bytes) waiter.reject(new Error(`Encryption failed: ${m.error}`));
      else waiter.resolve(m.bytes);
    });
    w.on('error', (e) => this.#fail(e));
    w.on('exit', () => {
      if (this.#worker === w) this.#worker = null;
      this.#fail(new Error('The encryption worker stopped unexpectedly.'));
    });
    this.#worker = w;
    return w;
  }

  #fail(e: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(e);
  }

  #create(key: Uint8Array): StreamEncryptor {
    const worker = this.#ensureWorker();
    // A new file: whatever the previous one still waits for is abandoned.
    this.#fail(new Error('Encryption was abandoned for a new file.'));
    const id = this.#nextId++;
    this.#currentId = id;
    worker.postMessage({ type: 'init', id, key: new Uint8Array(key) });
    const request = (message: { type: string; bytes?: Uint8Array }, transfer: ArrayBuffer[]) =>
      new Promise<Uint8Array>((resolve, reject) => {
        if (this.#currentId !== id || !this.#worker) {
          reject(new Error('This encryptor was replaced by a newer one.'));
          return;
        }
        this.#waiters.push({ resolve, reject });
        worker.postMessage(message, transfer);
      });
    return {
      maxPending: MAX_PENDING,
      update: (chunk) => {
        const owns = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
        const bytes = owns ? chunk : chunk.slice();
        return request({ type: 'update', bytes }, [bytes.buffer as ArrayBuffer]);
      },
      final: () => request({ type: 'final' }, []),
    };
  }
}
