/**
 * The page model's upload half, apart from the connection and identity (transfer-state.ts):
 * the queue (the one file in flight, the automatic re-sends after interruptions) and the
 * upload history. It reads and changes the model's state only through `UploadHost`, so
 * TransferModel stays the one place that holds the state and tells the page.
 */
import type { UploadRecord } from '@/browser/history-store';
import { identityProtocol, type StoredIdentity } from '@/browser/identity-store';
import type { FromWorker, ToWorker } from '@/browser/upload-protocol';
import {
  applyProgress,
  cancelQueued,
  cancelUnfinished,
  markStarted,
  nextQueued,
  requeue,
  withNote,
  clearFinished as withoutFinished,
} from '@/browser/upload-queue';
import type { ProtocolChoice } from '@/browser/v4-rules';
import { overInviteLikely, sentUnder } from './invite-rules';
import type { InviteSent, TransferDeps, TransferState } from './transfer-types';
import { addChosen, finishItem, historyOf, requeueInterrupted, uploadRecord } from './upload-rules';

/** What the model's transitions may change (the rest is fixed at construction). */
export type Fields = Omit<TransferState, 'bridgeUrl' | 'access' | 'actions'>;

/** The model, as the upload half sees it. */
export interface UploadHost {
  readonly deps: TransferDeps;
  /** The current snapshot. */
  state(): TransferState;
  /** Changes the state and tells the page (and then calls sendNext through the model). */
  set(change: Partial<Fields>): void;
  post(msg: ToWorker): void;
}

type Done = Extract<FromWorker, { type: 'done' }>;

export class TransferUploads {
  readonly #host: UploadHost;
  /** The item the worker is sending. */
  #activeId: string | null = null;
  /** Every stored record (history shows the current identity's). */
  #records: UploadRecord[] = [];
  /** Automatic re-sends per item after interruptions. */
  readonly #resends = new Map<string, number>();

  constructor(host: UploadHost) {
    this.#host = host;
  }

  /** The history shown for `identity`. */
  historyOf(identity: StoredIdentity | null | undefined): UploadRecord[] {
    return historyOf(this.#records, identity);
  }

  /** What was sent under the invite `inviteId`. */
  sentUnder(inviteId: string | undefined): InviteSent {
    return sentUnder(this.#records, inviteId);
  }

  /**
   * `next` with the next queued file marked started (and posted to the worker) when the
   * connection is ready and nothing is in flight; else `next` itself.
   */
  sendNext(next: TransferState): TransferState {
    if (next.conn.kind !== 'connected' || this.#activeId) return next;
    const item = nextQueued(next.items);
    if (!item) return next;
    this.#activeId = item.id;
    const started = { ...next, items: markStarted(next.items, item.id, this.#host.deps.monotonic()) };
    this.#host.post({ type: 'upload', id: item.id, file: item.file });
    return started;
  }

  /** Queues `files`; protocol v4 has 64-bit sizes, so the 4 GiB refusal is v3's only. */
  add(files: Iterable<File>, protocol: ProtocolChoice): void {
    const s = this.#host.state();
    const id = s.identity;
    const v4 = s.protocol === 4 || protocol === 4 || (!!id && identityProtocol(id) === 4);
    this.#host.set(addChosen([...files], s.items, s.history, v4));
  }

  cancel(id: string): void {
    if (this.#activeId === id) this.#host.post({ type: 'cancel', id });
    else this.#host.set({ items: cancelQueued(this.#host.state().items, id) });
  }

  retry(id: string): void {
    this.#resends.delete(id);
    this.#host.set({ items: requeue(this.#host.state().items, id) });
  }

  clearFinished(): void {
    this.#host.set({ items: withoutFinished(this.#host.state().items) });
  }

  /** The items once a connection is established: interrupted files go back in the queue. */
  itemsOnConnected(): TransferState['items'] {
    return requeueInterrupted(this.#host.state().items, this.#resends);
  }

  /** The items with every unfinished file cancelled, nothing in flight any more (the identity goes). */
  cancelAll(): TransferState['items'] {
    this.#activeId = null;
    return cancelUnfinished(this.#host.state().items);
  }

  onNotice(msg: Extract<FromWorker, { type: 'notice' }>): void {
    this.#host.set({ items: withNote(this.#host.state().items, msg.id, msg.message) });
  }

  onProgress(msg: Extract<FromWorker, { type: 'progress' }>): void {
    this.#host.set({ items: applyProgress(this.#host.state().items, msg, this.#host.deps.monotonic()) });
  }

  onDone(msg: Done): void {
    this.#activeId = null;
    const s = this.#host.state();
    const item = s.items.find((it) => it.id === msg.id);
    const { items, interrupted } = finishItem(s.items, msg, {
      resends: this.#resends.get(msg.id) ?? 0,
      overInvite: overInviteLikely(s.invite, msg),
    });
    // Interrupted: the worker is reconnecting, nothing more is sent until it says so.
    this.#host.set(interrupted ? { items, conn: { kind: 'connecting', registering: false } } : { items });
    // A file waiting to resend is not done: its outcome goes into the history once it is.
    if (interrupted) return;
    const d = this.#host.deps;
    const now = this.#host.state();
    void d
      .addUploadRecord(uploadRecord(msg, item, now.identity, d.now(), now.invite?.payload.id))
      .catch(() => {})
      .then(() => this.refreshHistory());
  }

  async refreshHistory(): Promise<void> {
    try {
      this.#records = await this.#host.deps.listUploadRecords();
      this.#host.set({ history: this.historyOf(this.#host.state().identity) });
    } catch {
      // History is a convenience; the uploads themselves still work.
    }
  }

  async clearHistory(): Promise<void> {
    const ids = this.#host.state().history.map((r) => r.id);
    try {
      await this.#host.deps.removeUploadRecords(ids);
    } catch {
      // Nothing else depends on it; what could not be removed shows again after a reload.
    }
    const gone = new Set(ids);
    this.#records = this.#records.filter((r) => !gone.has(r.id));
    this.#host.set({ history: this.historyOf(this.#host.state().identity) });
  }
}
