/**
 * The page's state and what changes it, without React: identity, connection (through the
 * upload worker), invites and the one-time me.info offer; the upload queue and the history
 * are transfer-uploads.ts's, driven from here. The worker, IndexedDB and the clocks are
 * injected, so every transition is unit-tested with fakes; use-transfer.ts only holds one
 * TransferModel and re-renders on its snapshots.
 */
import type { StoredIdentity } from '@/browser/identity-store';
import type { ConnectionProblem, FromWorker, ServerKeyChange, ToWorker } from '@/browser/upload-protocol';
import type { ProtocolChoice } from '@/browser/v4-rules';
import type { AccessMode } from '@/lib/invite';
import { validateClientName } from '@/lib/protocol';
import { identityAfterConnect, meInfoAfterConnect, registeredAgain } from './identity-rules';
import { inviteToOffer, readInvite, usableInvite } from './invite-rules';
import { identityFromMeInfo } from './me-info-import';
import { reconnectDelay } from './reconnect-policy';
import type { TransferActions, TransferDeps, TransferState, WorkerPort } from './transfer-types';
import { type Fields, TransferUploads } from './transfer-uploads';
import { explainStorage, STORAGE_SILENT } from './upload-rules';

/** If IndexedDB has not answered by then, say so rather than showing "Starting…" forever. */
export const STORAGE_TIMEOUT_MS = 15_000;
export { MAX_ME_INFO_BYTES } from './me-info-import';

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
  /** Automatic reconnects that failed in a row. */
  #failures = 0;
  /** The upload queue and the history (transfer-uploads.ts). */
  readonly #uploads: TransferUploads;
  #retryTimer: unknown;
  /** The invite link the page was opened with (undefined until start() looked). */
  #fromAddress: string | undefined;
  #storageTimer: unknown;
  /** `?protocol=` of the page: 3 or 4 forces a version, auto prefers 4. */
  readonly #protocol: ProtocolChoice;

  constructor(
    bridgeUrl: string,
    deps: TransferDeps,
    access: AccessMode = 'open',
    protocol: ProtocolChoice = 'auto',
  ) {
    this.#deps = deps;
    this.#protocol = protocol;
    this.#uploads = new TransferUploads({
      deps,
      state: () => this.#state,
      set: (change) => this.#set(change),
      post: (msg) => this.#post(msg),
    });
    this.#state = {
      bridgeUrl,
      access,
      invite: null,
      inviteProblem: null,
      inviteSent: { files: 0, bytes: 0 },
      identity: undefined,
      fingerprints: { key: null, server: null },
      conn: { kind: 'starting' },
      protocol: null,
      items: [],
      refused: [],
      history: [],
      meInfo: null,
      registeredAgain: null,
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
    void this.#uploads.refreshHistory();
    this.#storageTimer = d.setTimeout(() => {
      if (this.#state.identity === undefined && run === this.#run) {
        this.#set({ conn: { kind: 'problem', problem: 'storage', detail: STORAGE_SILENT } });
      }
    }, STORAGE_TIMEOUT_MS);
    // Taken out of the address bar once; kept until a start that is not superseded uses it.
    this.#fromAddress ??= d.takeInviteFromAddress();
    Promise.all([d.loadIdentity(), d.loadInvite()]).then(
      ([id, stored]) => {
        d.clearTimeout(this.#storageTimer);
        if (run !== this.#run) return;
        const kept = stored ? readInvite(stored.token, stored.server) : undefined;
        if (kept && 'payload' in kept) this.#set({ invite: kept });
        if (this.#fromAddress) this.#takeInvite(this.#fromAddress);
        this.#fromAddress = '';
        this.#set({ identity: id ?? null });
        void this.#refreshFingerprints();
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
    forgetServerKey: () => this.#forgetServerKey(),
    applyInvite: (text) => {
      if (this.#takeInvite(text) && this.#state.identity) this.#connectStored(this.#state.identity);
    },
    registerAgain: async () => {
      const name = this.#state.identity?.name ?? this.#state.triedName;
      await this.#forget({ keepInvite: true });
      if (name) this.#register(name);
    },
    retryNow: () => {
      const id = this.#pendingImport ?? this.#state.identity;
      if (id) this.#connectStored(id);
      else this.#set({ conn: { kind: 'idle' } });
    },
    addFiles: (files) => this.#uploads.add(files, this.#protocol),
    cancel: (id) => this.#uploads.cancel(id),
    retryItem: (id) => this.#uploads.retry(id),
    clearFinished: () => this.#uploads.clearFinished(),
    dismissRefused: () => this.#set({ refused: [] }),
    clearHistory: () => this.#uploads.clearHistory(),
    meInfoDownloaded: () => {
      const m = this.#state.meInfo;
      if (m) this.#set({ meInfo: { ...m, downloaded: true } });
    },
    dismissMeInfo: () => this.#set({ meInfo: null }),
    dismissRegisteredAgain: () => this.#set({ registeredAgain: null }),
  };

  #set(change: Partial<Fields>): void {
    const next = { ...this.#state, ...change };
    if (change.identity !== undefined && change.identity !== this.#state.identity) {
      next.history = this.#uploads.historyOf(next.identity);
    }
    if (change.history !== undefined || change.invite !== undefined) {
      next.inviteSent = this.#uploads.sentUnder(next.invite?.payload.id);
    }
    this.#state = this.#uploads.sendNext(next);
    for (const listener of this.#listeners) listener();
  }

  /**
   * What every register/reconnect message carries: the bridge, the invite's token to offer,
   * `protocol` when the address forces one (the worker's default is auto), and the invite
   * link's server fingerprint (the worker checks the first v4 connection against it).
   */
  #where(invite: string | undefined): {
    url: string;
    invite?: string;
    protocol?: 3 | 4;
    serverFingerprint?: string;
  } {
    const server = this.#state.invite?.server;
    return {
      url: this.#state.bridgeUrl,
      invite,
      ...(this.#protocol === 'auto' ? {} : { protocol: this.#protocol }),
      ...(server === undefined ? {} : { serverFingerprint: server }),
    };
  }

  #post(msg: ToWorker): void {
    this.#worker?.post(msg);
  }

  async #refreshFingerprints(): Promise<void> {
    try {
      this.#set({ fingerprints: await this.#deps.v4Fingerprints(this.#state.bridgeUrl) });
    } catch {
      // Shown for reference only; the connection checks the pin itself.
    }
  }

  /**
   * Uses the invite in `text` (a link, a fragment, a bare token): kept in IndexedDB unless it
   * is damaged or expired, which is said instead (before any connection). True when usable.
   */
  #takeInvite(text: string): boolean {
    const found = usableInvite(text, this.#deps.now());
    if ('error' in found) {
      this.#set({ inviteProblem: found.error });
      return false;
    }
    this.#set({ invite: found, inviteProblem: null });
    this.#deps
      .saveInvite(
        found.server === undefined ? { token: found.token } : { token: found.token, server: found.server },
      )
      .catch((e: unknown) =>
        this.#set({ conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) } }),
      );
    return true;
  }

  /** The invite to offer at the handshake, unless a problem was set instead (then false). */
  #offer(): string | undefined | false {
    const offer = inviteToOffer(this.#state.access, this.#state.invite, this.#deps.now());
    if ('refused' in offer) {
      this.#set({ conn: { kind: 'problem', problem: 'invite', detail: offer.refused } });
      return false;
    }
    return offer.token;
  }

  #connectStored(id: StoredIdentity): void {
    this.#deps.clearTimeout(this.#retryTimer);
    this.#registering = false;
    const invite = this.#offer();
    if (invite === false) return;
    this.#set({ conn: { kind: 'connecting', registering: false } });
    const { name, clientId, privateKey } = id;
    this.#post({
      type: 'reconnect',
      ...this.#where(invite),
      name,
      clientId,
      ...(privateKey ? { privateKey } : {}),
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
        const meInfo = meInfoAfterConnect(msg);
        if (meInfo) this.#set({ meInfo });
        const again = registeredAgain(msg, this.#state.identity, this.#pendingImport);
        if (again) this.#set({ registeredAgain: again });
        const id = identityAfterConnect(msg, this.#state.identity, this.#pendingImport, this.#deps.now());
        this.#pendingImport = null;
        if (id) this.#store(id);
        void this.#refreshFingerprints();
        this.#set({
          conn: { kind: 'connected' },
          protocol: msg.protocol ?? 3,
          items: this.#uploads.itemsOnConnected(),
        });
        return;
      }
      case 'problem':
        this.#onProblem(msg.problem, msg.message, msg.serverKey, msg.retry);
        return;
      case 'notice':
        this.#uploads.onNotice(msg);
        return;
      case 'progress':
        this.#uploads.onProgress(msg);
        return;
      case 'done':
        this.#uploads.onDone(msg);
        return;
    }
  }

  #onProblem(problem: ConnectionProblem, detail: string, serverKey?: ServerKeyChange, retry?: true): void {
    this.#registering = false;
    if (serverKey) {
      // Nothing was sent; only the person may remove the pin (forgetServerKey).
      this.#pendingImport = null;
      this.#set({ conn: { kind: 'problem', problem, detail, serverKey } });
      void this.#refreshFingerprints();
      return;
    }
    const importing = this.#pendingImport !== null;
    this.#pendingImport = null;
    const identity = this.#state.identity;
    const delay = reconnectDelay(problem, this.#failures, { hasIdentity: !!identity, importing, retry });
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
    this.#pendingImport = null;
    this.#set({ triedName: trimmed });
    const invite = this.#offer();
    if (invite === false) return undefined;
    this.#registering = true;
    this.#set({ conn: { kind: 'connecting', registering: true } });
    this.#post({ type: 'register', ...this.#where(invite), name: trimmed });
    return undefined;
  }

  async #importMeInfo(file: File): Promise<void> {
    try {
      const id = await identityFromMeInfo(file, this.#deps.importPrivateKey, this.#deps.now());
      this.#pendingImport = id;
      this.#set({ triedName: id.name });
      this.#connectStored(id);
    } catch (e) {
      this.#set({
        conn: { kind: 'problem', problem: 'bad-file', detail: e instanceof Error ? e.message : String(e) },
      });
    }
  }

  /**
   * The person confirmed: the pin goes; when it was the invite link's fingerprint the server
   * contradicted (link-server), the link's fingerprint goes too (else it would be pinned again).
   */
  async #forgetServerKey(): Promise<void> {
    const conn = this.#state.conn;
    if (conn.kind !== 'problem' || !conn.serverKey) return;
    const invite = this.#state.invite;
    try {
      await this.#deps.forgetPin(conn.serverKey.address);
      if (conn.serverKey.kind === 'link-server' && invite?.server !== undefined) {
        await this.#deps.saveInvite({ token: invite.token });
        this.#set({ invite: { token: invite.token, payload: invite.payload } });
      }
    } catch (e) {
      this.#set({ conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) } });
      return;
    }
    void this.#refreshFingerprints();
    if (!this.#pendingImport && !this.#state.identity && this.#state.triedName)
      this.#register(this.#state.triedName);
    else this.actions.retryNow();
  }

  /** Forgets the identity, its history and (unless registering again) the invite it sent under. */
  async #forget(opts: { keepInvite?: boolean } = {}): Promise<void> {
    this.#deps.clearTimeout(this.#retryTimer);
    this.#post({ type: 'disconnect' });
    this.#set({ items: this.#uploads.cancelAll(), meInfo: null });
    try {
      await this.#deps.forgetIdentity();
      if (!opts.keepInvite) await this.#deps.forgetInvite();
      await this.#uploads.clearHistory();
    } catch (e) {
      this.#set({ conn: { kind: 'problem', problem: 'storage', detail: explainStorage(e) } });
      return;
    }
    const invite = opts.keepInvite ? this.#state.invite : null;
    this.#set({ identity: null, invite, inviteProblem: null, registeredAgain: null, conn: { kind: 'idle' } });
    void this.#refreshFingerprints();
  }
}
