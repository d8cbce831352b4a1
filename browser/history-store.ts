/**
 * This browser's upload history in IndexedDB: one record per finished upload (verified,
 * failed or cancelled), newest first. Database `sftransfer-history`, store `uploads`.
 */
import { createStore, del, entries, set, type UseStore } from 'idb-keyval';
import { BrowserError } from './errors';

export const HISTORY_DB = 'sftransfer-history';
export const HISTORY_STORE = 'uploads';
/** Oldest records beyond this many are dropped. */
export const HISTORY_LIMIT = 200;

export interface UploadRecord {
  /** Unique key: time + random suffix. */
  id: string;
  fileName: string;
  /** The name it travelled under (protocol v3's ASCII name; the server keeps one file per name). */
  wireName?: string;
  size: number;
  /** Protocol v4: the server's SHA-256 of what it stored (hex). */
  sha256?: string;
  /** cksum of the plaintext (undefined when the upload never got that far). */
  cksum?: number;
  /** ms since epoch when the upload finished. */
  finishedAt: number;
  outcome: 'verified' | 'failed' | 'cancelled';
  /** Client name the file was sent as. */
  clientName: string;
  /** Hex client ID it was sent as (records from before it was kept have only the name). */
  clientIdHex?: string;
  attempts: number;
  /** The ID of the invite it was sent under (the page counts them against its limits). */
  inviteId?: string;
}

let store: UseStore | undefined;
function historyStore(): UseStore {
  store ??= createStore(HISTORY_DB, HISTORY_STORE);
  return store;
}

export async function addUploadRecord(record: UploadRecord): Promise<void> {
  try {
    await set(record.id, record, historyStore());
  } catch (cause) {
    throw new BrowserError('BROWSER_ERR_STORAGE', 'Could not save the upload history.', { cause });
  }
}

/** All records, newest first; trims the store to HISTORY_LIMIT. */
export async function listUploadRecords(): Promise<UploadRecord[]> {
  let all: [IDBValidKey, unknown][];
  try {
    all = await entries(historyStore());
  } catch (cause) {
    throw new BrowserError('BROWSER_ERR_STORAGE', 'Could not read the upload history.', { cause });
  }
  const records = all
    .map(([, v]) => v as UploadRecord)
    .filter((r) => r && typeof r.fileName === 'string')
    .sort((a, b) => b.finishedAt - a.finishedAt);
  for (const old of records.splice(HISTORY_LIMIT)) await del(old.id, historyStore()).catch(() => {});
  return records;
}

/** Deletes the records with these ids (one identity's history). */
export async function removeUploadRecords(ids: readonly string[]): Promise<void> {
  try {
    for (const id of ids) await del(id, historyStore());
  } catch (cause) {
    throw new BrowserError('BROWSER_ERR_STORAGE', 'Could not clear the upload history.', { cause });
  }
}

export async function clearUploadRecords(): Promise<void> {
  const all = await entries(historyStore()).catch(() => []);
  for (const [k] of all) await del(k, historyStore()).catch(() => {});
}
