/**
 * What the server keeps about clients and files, behind one async interface: SQLite
 * (db.ts) is the first implementation, PostgreSQL the next. Any implementation must pass
 * test/contracts/database.contract.ts. Row fields keep the reference programs' column names
 * (defensive.db: clients, files) so a listing means the same everywhere.
 */

export interface ClientRow {
  ID: Uint8Array;
  Name: string;
  PublicKey: Uint8Array | null;
  LastSeen: string | null;
  AESKey: Uint8Array | null;
  /**
   * The opaque folder (under the storage root) new files of this client go to; null until its
   * first file. Not the client ID, which is half a v3 credential and travels in the clear.
   */
  Folder: string | null;
  /** The invite the client registered with (its uploads count against it); null: none. */
  InviteID: string | null;
}

export interface FileRow {
  ID: Uint8Array;
  FileName: string;
  /** Stored file's path relative to the storage root, '/'-separated: "<client Folder>/<name>" ("<client hex>/<name>" for files stored before Folder existed). */
  PathName: string;
  Verified: number;
  Size: number | null;
  Cksum: number | null;
  ReceivedAt: string | null;
  /** Identifies one completed upload, so 1029/1030/1031 act on the attempt this connection sent. */
  Token: string | null;
  /** SHA-256 (hex) of the stored plaintext, for files stored through protocol v4; null for v3. */
  Sha256: string | null;
}

export interface ListedFile extends FileRow {
  ClientName: string | null;
}

/** A completed upload as recorded (unverified). */
export interface NewFile {
  id: Uint8Array;
  fileName: string;
  pathName: string;
  size: number;
  /** Null for a v4 file, which has a SHA-256 instead. */
  cksum: number | null;
  receivedAt: string;
  token: string;
  /** SHA-256 (hex) of the plaintext (protocol v4). */
  sha256?: string;
}

/**
 * A change of the stored files that spans the storage and the rows, written down (notePending)
 * before the storage is touched and dropped once both sides agree, so that a crash between
 * the two is finished or undone at the next start (FileStore.recover):
 * - `store`: the finished upload at `source` (a path on the storage: a temp file, or a
 *   resumable v4 upload's data file) is moved to `pathName`, then `file` is recorded;
 * - `remove`: the file at `pathName`, whose row is being deleted, is removed.
 */
export type PendingChange =
  | {
      kind: 'store';
      pathName: string;
      source: string;
      file: NewFile;
      /**
       * A same-name replacement: the replaced row's token and Verified before claimFile, and
       * where the replaced bytes are kept until the new row is written (FileStorage.keep;
       * absent where the storage could not keep them).
       */
      replaced?: { token: string | null; verified: boolean; kept?: string };
    }
  | { kind: 'remove'; pathName: string };

export interface PendingEntry {
  seq: number;
  /** When it was written down, ms since the epoch. */
  notedAt: number;
  change: PendingChange;
}

/** An invite the owner made (`invite create`); the token's payload is signed from these fields. */
export interface InviteRow {
  /** 16 hex digits, as in the token. */
  ID: string;
  Label: string;
  /** ISO 8601, whole seconds (the token's iat and exp). */
  CreatedAt: string;
  ExpiresAt: string;
  /** Null: no limit beyond the server's global ones. */
  MaxBytes: number | null;
  MaxFiles: number | null;
  MaxClients: number;
  /** When `invite revoke` ran; null while in force. */
  RevokedAt: string | null;
}

/** Bytes and files stored (rows of the files table; the Size of each). */
export interface Usage {
  bytes: number;
  files: number;
}

export interface InviteUsage extends Usage {
  /** Clients bound to the invite. */
  clients: number;
}

export interface InviteListing extends InviteRow, InviteUsage {}

export interface ClientListing extends Usage {
  ID: Uint8Array;
  Name: string;
  LastSeen: string | null;
  InviteID: string | null;
  /** A public key is on file (the client finished its registration). */
  HasKey: boolean;
  /** A protocol v4 key (Ed25519) is on file: the row is a v4 identity. */
  HasV4Key: boolean;
}

/** Bind a new client to this invite, only while fewer than `maxClients` are bound to it. */
export interface InviteSlot {
  id: string;
  maxClients: number;
}

export interface Database {
  clientById(id: Uint8Array): Promise<ClientRow | undefined>;
  clientByName(name: string): Promise<ClientRow | undefined>;
  /** Registered clients (the --max-clients cap). */
  clientCount(): Promise<number>;
  /**
   * The client's Folder, setting it to `proposed` first when it has none (atomically: two
   * callers get the same answer). Undefined for an unknown client.
   */
  clientFolder(id: Uint8Array, proposed: string): Promise<string | undefined>;
  /**
   * Inserts a new client; false when the name (or, improbably, the ID) is taken, or, with an
   * `invite`, when the invite has no free client slot, or when `maxClients` clients are
   * registered already (both checked atomically with the insert: registrations in flight at
   * once each read the same count before).
   */
  insertClient(
    id: Uint8Array,
    name: string,
    now: string,
    invite?: InviteSlot,
    maxClients?: number,
  ): Promise<boolean>;
  /**
   * Gives a name whose registration never got a public key (the client vanished between 1025
   * and 1026) to a new client ID, atomically. False if the old row has a key or files, or the
   * `invite` has no free slot (the old row then stays).
   */
  reclaimKeylessName(
    oldId: Uint8Array,
    newId: Uint8Array,
    name: string,
    now: string,
    invite?: InviteSlot,
  ): Promise<boolean>;
  /** The client whose protocol v4 identity is this Ed25519 public key (raw, 32 bytes). */
  clientByV4Key(key: Uint8Array): Promise<ClientRow | undefined>;
  /**
   * Registers a protocol v4 client: a clients row (no RSA key) bound to its Ed25519 key, in
   * one transaction. False when the name, the ID or the key is taken, or, with an `invite`,
   * when the invite has no free client slot, or at `maxClients` (as insertClient).
   */
  insertV4Client(
    id: Uint8Array,
    name: string,
    key: Uint8Array,
    now: string,
    invite?: InviteSlot,
    maxClients?: number,
  ): Promise<boolean>;
  /** Stores a new AES key (and the public key, when given) and updates LastSeen. */
  setKeys(id: Uint8Array, publicKey: Uint8Array | null, aesKey: Uint8Array, now: string): Promise<void>;
  /** Updates LastSeen. */
  touch(id: Uint8Array, now: string): Promise<void>;
  fileByName(id: Uint8Array, fileName: string): Promise<FileRow | undefined>;
  /** The client's file rows, oldest first. */
  clientFiles(id: Uint8Array): Promise<FileRow[]>;
  /** True when any client's row already uses this stored path (compared without case). */
  pathTaken(pathName: string): Promise<boolean>;
  /** Records a completed upload, unverified; replaces the row of an earlier upload of the same name. */
  upsertFile(f: NewFile): Promise<void>;
  /** Marks the file verified (only the upload `token`, when given); returns rows changed. */
  markVerified(id: Uint8Array, fileName: string, token: string | null): Promise<number>;
  /**
   * Before the stored file is replaced: clears Verified (a crash mid-replace never leaves new
   * bytes marked verified) and gives the row the new upload's token, so the connection of
   * the upload being replaced can no longer verify or remove it.
   */
  claimFile(id: Uint8Array, fileName: string, token: string): Promise<void>;
  /**
   * A replacement that never happened (its file was not moved): the row claimed by upload
   * `claimed` gets back its `token` and `verified`; a row claimed since by another is left.
   */
  unclaimFile(
    id: Uint8Array,
    fileName: string,
    claimed: string,
    back: { token: string | null; verified: boolean },
  ): Promise<void>;
  /**
   * Deletes the file's row when it belongs to upload `token` (any upload when null), atomically,
   * and returns it so the caller can remove the stored file.
   */
  deleteFile(id: Uint8Array, fileName: string, token: string | null): Promise<FileRow | undefined>;
  /** Writes the changes down (one transaction) before they start; returns their numbers, in order. */
  notePending(changes: readonly PendingChange[]): Promise<number[]>;
  /**
   * The `store` noted as `seq` has moved its file into place: records `f` (as upsertFile; and
   * verified when `verified`) and drops the note, in one transaction. `keepNote`: the note
   * stays (the caller has more to finish, then drops it; cut before, recovery does it again).
   */
  completeStore(seq: number, f: NewFile, verified?: boolean, keepNote?: boolean): Promise<void>;
  /** Drops notes (done, or undone); unknown numbers are ignored. */
  dropPending(seqs: readonly number[]): Promise<void>;
  /** Every note not dropped, oldest first: changes a crash cut. */
  pending(): Promise<PendingEntry[]>;
  /** Every file with its client's name, oldest first (the `files` command). */
  files(): Promise<ListedFile[]>;
  /** Records a new invite; rejects when the ID exists. */
  insertInvite(invite: InviteRow): Promise<void>;
  inviteById(id: string): Promise<InviteRow | undefined>;
  /** Every invite with what its clients use, oldest first (`invite list`). */
  invites(): Promise<InviteListing[]>;
  /** Sets RevokedAt (kept if already set); returns the row, undefined for an unknown ID. */
  revokeInvite(id: string, now: string): Promise<InviteRow | undefined>;
  /** What the invite's clients store, and how many are bound to it. */
  inviteUsage(id: string): Promise<InviteUsage>;
  /** What one client stores. */
  clientUsage(id: Uint8Array): Promise<Usage>;
  /** What every file together takes (rows whose client was removed included). */
  totalUsage(): Promise<Usage>;
  /** Every client with what it stores, by name (`clients list`). */
  clients(): Promise<ClientListing[]>;
  /**
   * Deletes a client (it can no longer reconnect; its invite slot is free again) and returns
   * its file rows, or undefined for an unknown ID. With `withFiles` the rows go too (the caller
   * removes the stored files); without, they stay, listed without a client name and still
   * counted in totalUsage.
   */
  removeClient(id: Uint8Array, withFiles: boolean): Promise<FileRow[] | undefined>;
  /** Releases the connection; pending work is done first. */
  close(): Promise<void>;
}
