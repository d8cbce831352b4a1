/**
 * The page's state and what changes it, without React: identity, connection (through the
 * upload worker), the upload queue, the history and the one-time me.info offer. The worker,
 * IndexedDB and the clocks are injected, so every transition is unit-tested with fakes;
 * use-transfer.ts only holds one TransferModel and re-renders on its snapshots.
 */
import { BrowserError } from '@/browser/errors';
import type { UploadRecord } from '@/browser/history-store';
import type { StoredIdentity } from '@/browser/identity-store';
import type { ConnectionProblem, FromWorker, ToWorker } from '@/browser/upload-protocol';
import {
  applyDone,
  applyProgress,
  cancelQueued,
  cancelUnfinished,
  markStarted,
  newItems,
  nextQueued,
  requeue,
  type UploadItem,
  clearFinished as withoutFinished,
} from '@/browser/upload-queue';
import { formatMeInfo, parseMeInfo } from '@/lib/crypto';
import { validateClientName } from '@/lib/protocol';
import { reconnectDelay } from './reconnect-policy';

/** What stands between the person and sending files. */
export type Problem = ConnectionProblem | 'storage' | 'worker' | 'bad-file';

export type Conn =
  | { kind: 'starting' }
  | { kind: 'idle' }
  | { kind: 'connecting'; registering: boolean }
  | { kind: 'connected' }
  | { kind: 'problem'; problem: Problem; detail: string; retryAt?: number };

/** If IndexedDB has not answered by then, say so rather than showing "Starting…" forever. */
export const STORAGE_TIMEOUT_MS = 15_000;
/** me.info is a few hundred bytes; anything much larger is not one. */
export const MAX_ME_INFO_BYTES = 64 * 1024;

/** The worker as the model drives it (browser/upload-worker-client.ts in the page). */
export interface WorkerPort {
  post(msg: ToWorker): void;
  terminate(): void;
}

/** Everything outside the model: the worker, IndexedDB, key import and the clocks. */
export interface TransferDeps {
  startWorker(onMessage: (msg: FromWorker) => void, onCrash: (error: Error) => void): WorkerPort;
  loadIdentity(): Promise<StoredIdentity | undefined>;
  saveIdentity(identity: StoredIdentity): Promise<void>;
  forgetIdentity(): Promise<void>;
  addUploadRecord(record: UploadRecord): Promise<void>;
  listUploadRecords(): Promise<UploadRecord[]>;
  /** Imports a me.info's PKCS#8 key as a non-extractable CryptoKey. */
  importPrivateKey(pkcs8: Uint8Array): Promise<CryptoKey>;
  /** Wall-clock milliseconds (Date.now): records, retry times. */
  now(): number;
  /** Monotonic milliseconds (performance.now): transfer speeds. */
  monotonic(): number;
  setTimeout(run: () => void, ms: number): unknown;
  clearTimeout(timer: unknown): void;
}

export interface TransferActions {
  /** Registers `name`; returns why the name is not valid, or undefined once started. */
  register(name: string): string | undefined;
  /** Reads a me.info, imports its key and reconnects with it (stored on success). */
  importMeInfo(file: File): Promise<void>;
  forget(): Promise<void>;
  /** After 1606: drop the stale identity and register the same name again. */
  registerAgain(): Promise<void>;
  /** Reconnects the current (or pending imported) identity, e.g. from a "Try again" button. */
  retryNow(): void;
  addFiles(files: Iterable<File>): void;
  cancel(id: string): void;
  retryItem(id: string): void;
  clearFinished(): void;
  dismissMeInfo(): void;
}

/** What the page renders. A new object on every change, so React can compare by identity. */
export interface TransferState {
  bridgeUrl: string;
  /** undefined while loading; null when this browser has no identity. */
  identity: StoredIdentity | null | undefined;
  conn: Conn;
  items: UploadItem[];
  history: UploadRecord[];
  /** me.info text right after registration: in memory only until downloaded or dismissed. */
  meInfo: { name: string; text: string } | null;
  /** The name last tried for registration (kept in the form after "name taken"). */
  triedName: string;
  actions: TransferActions;
}

type Fields = Omit<TransferState, 'bridgeUrl' | 'actions'>;

function explainStorage(e: unknown): string {
  return e instanceof BrowserError
    ? e.message
    : 'This browser would not let the page use its storage (IndexedDB).';
}

export class TransferModel {
  readonly #deps: TransferDeps;
  #state: TransferState;
  readonly #listeners = new Set<() => void>();
  #worker: WorkerPort | null = null;
  /** Bumped by start() and stop(), so answers for an earlier start are ignored. */
  #run = 0;
  /** An imported identity, stored only once the server accepted it. */
  #pendingImport: StoredIdentity | null = null;
  #registering = false;
  /** The item the worker is sending. */
  #activeId: string | null = null;
  /** Automatic reconnects that failed in a row. */
  #failures = 0;
  #retryTimer: unknown;
  #storageTimer: unknown;

  constructor(bridgeUrl: string, deps: TransferDeps) {
    this.#deps = deps;
    this.#state = {
      bridgeUrl,
      identity: undefined,
      conn: { kind: 'starting' },
      items: [],
      history: [],
      meInfo: null,
      triedName: '',
      actions: this.actions,
    };
  }

  // Arrow properties: stable references that the page may pass around unbound.
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  };

  readonly getSnapshot = (): TransferState => this.#state;

  /** Starts the worker and loads the identity; stop() undoes it (start may follow again). */
  start(): void {
    const run = ++this.#run;
    const d = this.#deps;
    this.#worker = d.startWorker(
      (msg) => this.#onWorkerMessage(msg),
      (e) => this.#set({ conn: { kind: 'problem', problem: 'worker', detail: e.message } }),
    );
    void this.#refreshHistory();
    this.#storageTimer = d.setTimeout(() => {
      if (this.#state.identity === undefined && run === this.#run) {
        this.#set({
          conn: {
            kind: 'problem',
            problem: 'storage',
            detail:
              'This browser’s storage (IndexedDB) did not answer. Another tab of this page may be blocking it: close it, then reload.',
          },
        });
      }
    }, STORAGE_TIMEOUT_MS);
    d.loadIdentity().then(
      (id) => {
        d.clearTimeout(this.#storageTimer);
        if (run !== this.#run) return;
        this.#set({ identity: id ?? null });
        if (id) this.#connectStored(id);
        else this.#set({ conn: { kind: 'idle' } });
      },
      (e: unknown) => {
        d.clearTimeout(this.#storageTimer);
        if (run !== this.#run) return;
        this.#set({
          identity: null,
          conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) },
        });
      },
    );
  }

  stop(): void {
    this.#run++;
    this.#deps.clearTimeout(this.#storageTimer);
    this.#deps.clearTimeout(this.#retryTimer);
    this.#worker?.terminate();
    this.#worker = null;
  }

  readonly actions: TransferActions = {
    register: (name) => this.#register(name),
    importMeInfo: (file) => this.#importMeInfo(file),
    forget: () => this.#forget(),
    registerAgain: async () => {
      const name = this.#state.identity?.name ?? this.#state.triedName;
      await this.#forget();
      if (name) this.#register(name);
    },
    retryNow: () => {
      const id = this.#pendingImport ?? this.#state.identity;
      if (id) this.#connectStored(id);
      else this.#set({ conn: { kind: 'idle' } });
    },
    addFiles: (files) => {
      const added = newItems(files);
      if (added.length > 0) this.#set({ items: [...this.#state.items, ...added] });
    },
    cancel: (id) => {
      if (this.#activeId === id) this.#post({ type: 'cancel', id });
      else this.#set({ items: cancelQueued(this.#state.items, id) });
    },
    retryItem: (id) => this.#set({ items: requeue(this.#state.items, id) }),
    clearFinished: () => this.#set({ items: withoutFinished(this.#state.items) }),
    dismissMeInfo: () => this.#set({ meInfo: null }),
  };

  #set(change: Partial<Fields>): void {
    this.#state = { ...this.#state, ...change };
    this.#sendNext();
    for (const listener of this.#listeners) listener();
  }

  #post(msg: ToWorker): void {
    this.#worker?.post(msg);
  }

  /** Sends the next queued file whenever the connection is ready and nothing is in flight. */
  #sendNext(): void {
    if (this.#state.conn.kind !== 'connected' || this.#activeId) return;
    const next = nextQueued(this.#state.items);
    if (!next) return;
    this.#activeId = next.id;
    this.#state = { ...this.#state, items: markStarted(this.#state.items, next.id, this.#deps.monotonic()) };
    this.#post({ type: 'upload', id: next.id, file: next.file });
  }

  async #refreshHistory(): Promise<void> {
    try {
      this.#set({ history: await this.#deps.listUploadRecords() });
    } catch {
      // History is a convenience; the uploads themselves still work.
    }
  }

  #connectStored(id: StoredIdentity): void {
    this.#deps.clearTimeout(this.#retryTimer);
    this.#registering = false;
    this.#set({ conn: { kind: 'connecting', registering: false } });
    this.#post({
      type: 'reconnect',
      url: this.#state.bridgeUrl,
      name: id.name,
      clientId: id.clientId,
      privateKey: id.privateKey,
    });
  }

  #store(id: StoredIdentity): void {
    this.#set({ identity: id });
    this.#deps
      .saveIdentity(id)
      .catch((e: unknown) =>
        this.#set({ conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) } }),
      );
  }

  #onWorkerMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'connecting':
        this.#set({ conn: { kind: 'connecting', registering: this.#registering } });
        return;
      case 'connected': {
        this.#failures = 0;
        this.#deps.clearTimeout(this.#retryTimer);
        this.#registering = false;
        if (msg.via === 'register' && msg.privateKey && msg.privateKeyPkcs8) {
          const { name, clientId } = msg;
          this.#set({
            meInfo: { name, text: formatMeInfo({ name, clientId, privateKeyPkcs8: msg.privateKeyPkcs8 }) },
          });
          const createdAt = this.#deps.now();
          this.#store({ name, clientId, privateKey: msg.privateKey, createdAt, origin: 'registered' });
        } else if (this.#pendingImport) {
          const id = this.#pendingImport;
          this.#pendingImport = null;
          this.#store(id);
        }
        this.#set({ conn: { kind: 'connected' } });
        return;
      }
      case 'problem':
        this.#onProblem(msg.problem, msg.message);
        return;
      case 'progress':
        this.#set({ items: applyProgress(this.#state.items, msg, this.#deps.monotonic()) });
        return;
      case 'done': {
        this.#activeId = null;
        const item = this.#state.items.find((it) => it.id === msg.id);
        this.#set({ items: applyDone(this.#state.items, msg) });
        const now = this.#deps.now();
        void this.#deps
          .addUploadRecord({
            id: `${now.toString(36)}-${msg.id}`,
            fileName: item?.file.name ?? msg.id,
            size: item?.size ?? 0,
            cksum: msg.cksum,
            finishedAt: now,
            outcome: msg.outcome,
            clientName: this.#state.identity?.name ?? '',
            attempts: msg.attempts,
          })
          .catch(() => {})
          .then(() => this.#refreshHistory());
        return;
      }
    }
  }

  #onProblem(problem: ConnectionProblem, detail: string): void {
    this.#registering = false;
    const importing = this.#pendingImport !== null;
    this.#pendingImport = null;
    const identity = this.#state.identity;
    const delay = reconnectDelay(problem, this.#failures, { hasIdentity: !!identity, importing });
    if (delay === undefined || !identity) {
      this.#set({ conn: { kind: 'problem', problem, detail } });
      return;
    }
    this.#failures++;
    const d = this.#deps;
    d.clearTimeout(this.#retryTimer);
    this.#retryTimer = d.setTimeout(() => this.#connectStored(identity), delay * 1000);
    this.#set({ conn: { kind: 'problem', problem, detail, retryAt: d.now() + delay * 1000 } });
  }

  #register(name: string): string | undefined {
    const trimmed = name.trim();
    try {
      validateClientName(trimmed);
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
    this.#deps.clearTimeout(this.#retryTimer);
    this.#registering = true;
    this.#pendingImport = null;
    this.#set({ triedName: trimmed, conn: { kind: 'connecting', registering: true } });
    this.#post({ type: 'register', url: this.#state.bridgeUrl, name: trimmed });
    return undefined;
  }

  async #importMeInfo(file: File): Promise<void> {
    try {
      if (file.size > MAX_ME_INFO_BYTES) throw new Error(`${file.name} is too large to be a me.info file.`);
      const parsed = parseMeInfo(await file.text());
      const privateKey = await this.#deps.importPrivateKey(parsed.privateKeyPkcs8);
      const id: StoredIdentity = {
        name: parsed.name,
        clientId: parsed.clientId,
        privateKey,
        createdAt: this.#deps.now(),
        origin: 'imported',
      };
      this.#pendingImport = id;
      this.#set({ triedName: parsed.name });
      this.#connectStored(id);
    } catch (e) {
      this.#set({
        conn: { kind: 'problem', problem: 'bad-file', detail: e instanceof Error ? e.message : String(e) },
      });
    }
  }

  async #forget(): Promise<void> {
    this.#deps.clearTimeout(this.#retryTimer);
    this.#post({ type: 'disconnect' });
    this.#activeId = null;
    this.#set({ items: cancelUnfinished(this.#state.items), meInfo: null });
    try {
      await this.#deps.forgetIdentity();
    } catch (e) {
      this.#set({ conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) } });
      return;
    }
    this.#set({ identity: null, conn: { kind: 'idle' } });
  }
}
