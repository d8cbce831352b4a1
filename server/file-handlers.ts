/**
 * Storing a completed upload and the answers to 1029/1030/1031. Choosing a stored name and
 * reserving it is synchronous (storage.ts), so concurrent uploads cannot pick the same one.
 */
import { randomBytes } from 'node:crypto';
import { clientIdToHex, type Response, ResponseCode } from '../lib/protocol';
import type { ServerDatabase } from './db';
import { ServerError } from './errors';
import type { Storage } from './storage';
import type { UploadResult } from './upload';

export interface StoredFile {
  pathName: string;
  /** Identifies this upload in the files row; 1029/1030/1031 on this connection act on it only. */
  token: string;
}

/** storeUpload calls per client and original name, in order: a replacement waits for the one before. */
const storing = new Map<string, Promise<unknown>>();

/**
 * Moves the temp file into the client's folder (replacing an earlier upload of the same
 * name atomically) and records it unverified. The rename and the folder's fsync run off
 * the event loop; uploads of the same client and name are stored one after another.
 */
export function storeUpload(
  db: ServerDatabase,
  storage: Storage,
  clientId: Uint8Array,
  fileName: string,
  result: UploadResult,
  now: string,
): Promise<StoredFile> {
  const key = `${clientIdToHex(clientId)}/${fileName}`;
  const before = storing.get(key) ?? Promise.resolve();
  const mine = before.catch(() => {}).then(() => store(db, storage, clientId, fileName, result, now));
  storing.set(key, mine);
  const forget = () => {
    if (storing.get(key) === mine) storing.delete(key);
  };
  mine.then(forget, forget);
  return mine;
}

async function store(
  db: ServerDatabase,
  storage: Storage,
  clientId: Uint8Array,
  fileName: string,
  result: UploadResult,
  now: string,
): Promise<StoredFile> {
  if (!db.clientById(clientId)) {
    throw new ServerError('SERVER_ERR_UNKNOWN_CLIENT', 'The client is no longer registered.');
  }
  const hex = clientIdToHex(clientId);
  const previous = db.fileByName(clientId, fileName);
  const token = randomBytes(8).toString('hex');
  // Committed on its own first: if the process dies between the rename and the row update,
  // the old row must not vouch for the new bytes; and from now on the replaced upload's
  // connection can no longer verify or remove the file (its token is gone).
  if (previous) db.claimFile(clientId, fileName, token);
  const pathName = await storage.commit(
    result.tmpPath,
    hex,
    fileName,
    previous?.PathName,
    (n) => db.pathTaken(n),
    (p) => {
      try {
        db.upsertFile({
          id: clientId,
          fileName,
          pathName: p,
          size: result.size,
          cksum: result.cksum,
          receivedAt: now,
          token,
        });
      } catch (e) {
        // A file under a new name must not stay behind unrecorded. (A replaced one is gone
        // either way; its row, already unverified, now describes the new bytes.)
        if (p !== previous?.PathName) storage.remove(p, hex);
        throw e;
      }
    },
  );
  await storage.syncDir(pathName);
  return { pathName, token };
}

function requireClient(db: ServerDatabase, clientId: Uint8Array): void {
  if (!db.clientById(clientId)) {
    throw new ServerError('SERVER_ERR_UNKNOWN_CLIENT', 'The client ID in the header is not registered.');
  }
}

/**
 * The upload a 1029/1030/1031 may act on: the one this connection received under that
 * name. Client IDs travel in the clear, so an ID alone proves nothing; having sent the
 * file's packets with the connection's AES key is the only proof v3 offers. Anything
 * else (another connection, another client's ID, a name never sent) is refused.
 */
function requireToken(
  db: ServerDatabase,
  clientId: Uint8Array,
  fileName: string,
  token: string | undefined,
): string {
  requireClient(db, clientId);
  if (token === undefined) {
    throw new ServerError(
      'SERVER_ERR_NO_SUCH_FILE',
      `No file "${fileName}" was received from this client on this connection.`,
    );
  }
  return token;
}

/** 1029: marks this connection's upload of the name verified -> 1604. */
export function verifyFile(
  db: ServerDatabase,
  clientId: Uint8Array,
  fileName: string,
  token: string | undefined,
): Response {
  const own = requireToken(db, clientId, fileName, token);
  if (db.markVerified(clientId, fileName, own) === 0) {
    throw new ServerError(
      'SERVER_ERR_FILE_REPLACED',
      `"${fileName}" was removed or replaced by another upload after this connection's; send it again.`,
    );
  }
  return { code: ResponseCode.Thanks, clientId };
}

/**
 * 1030 and 1031: the client's CRC did not match, so this connection's stored attempt is
 * removed. Returns false when another upload of the name replaced it meanwhile (that one
 * stays).
 */
export function discardFile(
  db: ServerDatabase,
  storage: Storage,
  clientId: Uint8Array,
  fileName: string,
  token: string | undefined,
): boolean {
  const own = requireToken(db, clientId, fileName, token);
  const row = db.deleteFile(clientId, fileName, own);
  if (!row) return false;
  storage.remove(row.PathName, clientIdToHex(clientId));
  return true;
}
