/** The ClientErrors ClientSession raises, each with a sentence a person can act on. */
import { ProtocolError, RequestCode, type Response, ResponseCode } from '../protocol';
import { ClientError } from './errors';

/** The answer that arrived while a 1028 sequence was still being sent. */
export type EarlyAnswer = { ok: true; value: Response } | { ok: false; error: unknown };

export function invalidName(what: string, cause: unknown): ClientError {
  const why = cause instanceof ProtocolError ? cause.message : String(cause);
  return new ClientError(
    'CLIENT_ERR_INVALID_NAME',
    `${what} cannot be sent: ${why} Use printable ASCII only.`,
    {},
    { cause },
  );
}

export function cancelled(fileName: string): ClientError {
  return new ClientError('CLIENT_ERR_CANCELLED', `Sending "${fileName}" was cancelled.`);
}

export function connectionClosed(requestCode: number, cause?: unknown): ClientError {
  return new ClientError(
    'CLIENT_ERR_CONNECTION_CLOSED',
    `The connection to the server closed during request ${requestCode}. ` +
      'Check that the server is running and try again.',
    { requestCode },
    cause === undefined ? undefined : { cause },
  );
}

export function protocolError(requestCode: number, cause: unknown): ClientError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ClientError(
    'CLIENT_ERR_PROTOCOL',
    `The server's answer to request ${requestCode} is not valid protocol v3 (${why}) Is this the right server and port?`,
    { requestCode },
    { cause },
  );
}

export function earlyAnswerError(early: EarlyAnswer, sent: number, total: number): unknown {
  if (!early.ok) return early.error;
  const res = early.value;
  if (res.code === ResponseCode.ServerError) {
    return new ClientError(
      'CLIENT_ERR_SERVER_ERROR',
      `The server reported an error (1607) after packet ${sent} of ${total}. Check the server's log and its limits, then try again.`,
      { requestCode: RequestCode.SendFile, responseCode: res.code },
    );
  }
  return new ClientError(
    'CLIENT_ERR_UNEXPECTED_RESPONSE',
    `The server answered with code ${res.code} after packet ${sent} of ${total}, before the file was complete.`,
    { requestCode: RequestCode.SendFile, responseCode: res.code },
  );
}

export function unreachable(res: Response): ClientError {
  return new ClientError('CLIENT_ERR_UNEXPECTED_RESPONSE', `Unexpected response code ${res.code}.`, {
    responseCode: res.code,
  });
}
