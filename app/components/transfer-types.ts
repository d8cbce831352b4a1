/**
 * The page model's types: its state, its actions and what it depends on (the worker,
 * IndexedDB, key import and the clocks), apart from transfer-state.ts's transitions.
 */
import type { UploadRecord } from '@/browser/history-store';
import type { KeptInvite, StoredIdentity } from '@/browser/identity-store';
import type { ConnectionProblem, FromWorker, ServerKeyChange, ToWorker } from '@/browser/upload-protocol';
import type { UploadItem } from '@/browser/upload-queue';
import type { AccessMode } from '@/lib/invite';
import type { InviteInUse, InviteSent } from './invite-rules';

/** What stands between the person and sending files. */
export type Problem = ConnectionProblem | 'storage' | 'worker' | 'bad-file';
export type { InviteInUse, InviteSent };

export type Conn =
  | { kind: 'starting' }
  | { kind: 'idle' }
  | { kind: 'connecting'; registering: boolean }
  | { kind: 'connected' }
  | { kind: 'problem'; problem: Problem; detail: string; retryAt?: number; serverKey?: ServerKeyChange };

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
  /** The invite token (and its link's server fingerprint) kept beside the identity (IndexedDB). */
  loadInvite(): Promise<KeptInvite | undefined>;
  saveInvite(invite: KeptInvite): Promise<void>;
  forgetInvite(): Promise<void>;
  /** Removes the pinned v4 server key of `address` (the bridge's host:port). */
  forgetPin(address: string): Promise<void>;
  /** This browser's v4 key fingerprint and the server key pinned for the bridge (null: none yet). */
  v4Fingerprints(bridgeUrl: string): Promise<V4Fingerprints>;
  /** The `#invite=...` fragment of the page's address, taken out of the address bar. */
  takeInviteFromAddress(): string | undefined;
  addUploadRecord(record: UploadRecord): Promise<void>;
  listUploadRecords(): Promise<UploadRecord[]>;
  removeUploadRecords(ids: readonly string[]): Promise<void>;
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
  /** After the changed-key warning, confirmed by the person: forget the pinned key and connect again. */
  forgetServerKey(): Promise<void>;
  /** Uses the invite in a pasted link (or a fragment): kept, and connected with if there is an identity. */
  applyInvite(text: string): void;
  /** After 1606: drop the stale identity and register the same name again. */
  registerAgain(): Promise<void>;
  /** Reconnects the current (or pending imported) identity, e.g. from a "Try again" button. */
  retryNow(): void;
  addFiles(files: Iterable<File>): void;
  cancel(id: string): void;
  retryItem(id: string): void;
  clearFinished(): void;
  /** Hides the note about files refused for their size. */
  dismissRefused(): void;
  /** Deletes this identity's history. */
  clearHistory(): Promise<void>;
  /** The person read that the server registered this browser's v4 key again: the note goes. */
  dismissRegisteredAgain(): void;
  /** The me.info was downloaded: the offer stays (to download again) until dismissed. */
  meInfoDownloaded(): void;
  dismissMeInfo(): void;
}

/** `SHA256:...` fingerprints shown on the identity card. */
export interface V4Fingerprints {
  /** This browser's v4 key (the identity's key under protocol 4). */
  key: string | null;
  /** The server key pinned for the current bridge. */
  server: string | null;
}

/**
 * The server did not know this browser's v4 key any more (it lost its database, or the client
 * was removed) and registered it again under a new client ID: said once, until dismissed.
 */
export interface RegisteredAgain {
  name: string;
  /** The client ID files were sent under before (hex). */
  previousClientId: string;
  /** The client ID the server gave the key now (hex). */
  clientId: string;
}

/** A file not queued because protocol v3 cannot carry it. */
export interface RefusedFile {
  name: string;
  size: number;
}

/** What the page renders. A new object on every change, so React can compare by identity. */
export interface TransferState {
  bridgeUrl: string;
  /** From configuration: `invite` means nothing is sent without a valid invite. */
  access: AccessMode;
  /** The invite this browser sends under (from a link, kept in IndexedDB), if any. */
  invite: InviteInUse | null;
  /** Why the last link opened or pasted cannot be used (damaged, expired), until a good one. */
  inviteProblem: string | null;
  /** What this browser has sent under `invite`. */
  inviteSent: InviteSent;
  /** The protocol files go by on the current connection (null before one). */
  protocol: 3 | 4 | null;
  /** The fingerprints on the identity card (read from IndexedDB after each connection). */
  fingerprints: V4Fingerprints;
  /** undefined while loading; null when this browser has no identity. */
  identity: StoredIdentity | null | undefined;
  conn: Conn;
  items: UploadItem[];
  /** Files refused when added (too large), until dismissed or more files are added. */
  refused: RefusedFile[];
  /** The current identity's past uploads, newest first. */
  history: UploadRecord[];
  /** me.info text right after registration: in memory only until dismissed. */
  meInfo: { name: string; text: string; downloaded: boolean } | null;
  /** Set when the server registered this browser's v4 key again as a new client, until dismissed. */
  registeredAgain: RegisteredAgain | null;
  /** The name last tried for registration (kept in the form after "name taken"). */
  triedName: string;
  actions: TransferActions;
}
