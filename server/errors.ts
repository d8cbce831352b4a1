import { CodedError } from '../lib/protocol';

/** Stable codes of every server-layer failure; tests assert these, never message text. */
export type ServerErrorCode =
  /** A command-line flag, environment variable or port.info value is invalid. */
  | 'SERVER_ERR_BAD_ARGUMENT'
  /** The header's client ID is not registered. */
  | 'SERVER_ERR_UNKNOWN_CLIENT'
  /** The request names a different client than the header's client ID. */
  | 'SERVER_ERR_CLIENT_MISMATCH'
  /** 1026 with a different public key for a client that already has one on file (takeover attempt). */
  | 'SERVER_ERR_KEY_ON_FILE'
  /** The public key field is not a usable RSA-1024 SubjectPublicKeyInfo. */
  | 'SERVER_ERR_BAD_PUBLIC_KEY'
  /** 1028 on a connection that has not exchanged an AES key (1026/1027). */
  | 'SERVER_ERR_NO_KEY'
  /** A 1028 packet out of order. */
  | 'SERVER_ERR_UPLOAD_SEQUENCE'
  /** Sizes, totals or file name changed between packets of one file. */
  | 'SERVER_ERR_UPLOAD_INCONSISTENT'
  /** Sizes that cannot be right: content size vs original size, too large, implausible totals, short file. */
  | 'SERVER_ERR_UPLOAD_SIZE'
  /** The decrypted file does not end in valid PKCS#7 padding (wrong key or corrupt data). */
  | 'SERVER_ERR_UPLOAD_PADDING'
  /** Writing the received file failed (disk full, permissions). */
  | 'SERVER_ERR_UPLOAD_WRITE'
  /** The upload was abandoned (connection closed, server shutting down). */
  | 'SERVER_ERR_UPLOAD_ABORTED'
  /** 1029/1030/1031 for a file this client has not sent. */
  | 'SERVER_ERR_NO_SUCH_FILE'
  /** The stored file was replaced by another upload after this connection's 1603. */
  | 'SERVER_ERR_FILE_REPLACED'
  /** Refused by an invite or a limit (issue 15); the error carries the logged `reason` (invite-gate.ts). */
  | 'SERVER_ERR_REFUSED'
  /** The data folder or database is unusable. */
  | 'SERVER_ERR_STORAGE'
  /** Another running server holds the data folder (data-lock.ts). */
  | 'SERVER_ERR_DATA_IN_USE'
  /** A bug: something that should not happen did. */
  | 'SERVER_ERR_INTERNAL';

/** The one error type of server/. */
export class ServerError extends CodedError<ServerErrorCode> {
  override readonly name = 'ServerError';
}

/**
 * The stable code to log for any failure: our own codes as they are; SQLite and file-system
 * errors (disk full, I/O) as SERVER_ERR_STORAGE with their own code as detail; anything
 * else is a bug (SERVER_ERR_INTERNAL).
 */
export function classifyError(e: unknown): { code: string; detail?: string } {
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof ServerError) {
    const cause = (e.cause as { code?: unknown } | undefined)?.code;
    return typeof cause === 'string' ? { code: e.code, detail: cause } : { code: e.code };
  }
  if (typeof code === 'string') {
    if (code.startsWith('PROTO_ERR_') || code.startsWith('CRYPTO_ERR_')) return { code };
    if (code.startsWith('SQLITE_') || /^E[A-Z]+$/.test(code))
      return { code: 'SERVER_ERR_STORAGE', detail: code };
  }
  return { code: 'SERVER_ERR_INTERNAL' };
}
