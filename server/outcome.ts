/**
 * What one request came to, the one shape every handler returns: the answer to send (or
 * none) and the fields of its log line. The connection sends the answer and writes the one
 * line; handlers never touch the socket or the log.
 */
import { RequestCode, type RequestHeader, type Response, ResponseCode } from '../lib/protocol';
import { classifyError } from './errors';
import { RefusedError } from './invite-gate';

export interface Outcome {
  /** The answer; null when none is sent (1030, a file abandoned, packets before the last). */
  response: Response | null;
  /** Stable error code when the request failed. */
  error?: string;
  /** Underlying cause of `error` (SQLITE_FULL, ENOSPC ...). */
  detail?: string;
  /** Original file name (1028..1031). */
  file?: string;
  /** Packets of a 1028 file. */
  packets?: number;
  /** Request bytes covered (default: the frame just handled). */
  bytes?: number;
  /** performance.now() when the request began (default: when its frame was handled). */
  since?: number;
  /** The request this is about when not the frame just handled (a file abandoned by another request). */
  request?: Pick<RequestHeader, 'clientId' | 'code'>;
  /** A bug's message, logged as an `internal-error` event beside the line. */
  internal?: string;
  /** Why an invite or a limit refused it (invite-gate.ts RefusalReason). */
  reason?: string;
  /** The name the line names when the session has none yet (the client a 1025 registered). */
  name?: string;
}

/** The failure fields for `e`: its stable code, detail, and a bug's message. */
export function failure(e: unknown): Pick<Outcome, 'error' | 'detail' | 'internal' | 'reason'> {
  const { code, detail } = classifyError(e);
  return {
    error: code,
    ...(detail ? { detail } : {}),
    ...(e instanceof RefusedError ? { reason: e.reason } : {}),
    ...(code === 'SERVER_ERR_INTERNAL' ? { internal: (e as Error)?.message ?? String(e) } : {}),
  };
}

/** A request that failed: 1601 for 1025, nothing for 1030, 1607 for everything else. */
export function failed(code: number, e: unknown, fields: Partial<Outcome> = {}): Outcome {
  const response: Response | null =
    code === RequestCode.Register
      ? { code: ResponseCode.RegisterFailed }
      : code === RequestCode.CrcRetry
        ? null
        : { code: ResponseCode.ServerError };
  return { response, ...failure(e), ...fields };
}

/**
 * What handling one decoder event gives the connection: nothing (go on), an outcome now, or
 * work to wait for with the socket paused (storing a file, the disk catching up), which may
 * end in an outcome.
 */
export type Step = Outcome | Promise<Outcome | undefined> | undefined;
