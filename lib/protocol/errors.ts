import { CodedError } from './coded-error';
import type { RequestHeader, ResponseHeader } from './header-types';

/** Stable codes of every protocol-layer failure; tests assert these, never message text. */
export type ProtocolErrorCode =
  | 'PROTO_ERR_NAME_NO_NUL'
  | 'PROTO_ERR_NAME_EMPTY'
  | 'PROTO_ERR_NAME_NOT_ASCII'
  | 'PROTO_ERR_NAME_CONTROL_CHAR'
  | 'PROTO_ERR_NAME_TOO_LONG'
  | 'PROTO_ERR_BAD_VERSION'
  | 'PROTO_ERR_UNKNOWN_CODE'
  | 'PROTO_ERR_PAYLOAD_TOO_LARGE'
  | 'PROTO_ERR_BAD_PAYLOAD_SIZE'
  | 'PROTO_ERR_BAD_FIELD'
  | 'PROTO_ERR_TRUNCATED';

/** The one error type thrown by lib/protocol. */
export class ProtocolError extends CodedError<ProtocolErrorCode> {
  override readonly name = 'ProtocolError';
  constructor(
    code: ProtocolErrorCode,
    message: string,
    /** The offending frame header, when one was read (framing errors). */
    readonly header: RequestHeader | ResponseHeader | null = null,
  ) {
    super(code, message);
  }
}

/** The request header a framing error carries (null for none, or for a response header). */
export function requestHeaderOf(e: ProtocolError): RequestHeader | null {
  return e.header !== null && 'clientId' in e.header ? e.header : null;
}
