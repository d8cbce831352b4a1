import { CodedError } from '../coded-error';
import { V4ErrorCode } from './constants';

/** Stable codes of every v4 wire-layer failure; tests assert these, never message text. */
export type V4ProtocolErrorCode =
  | 'V4_ERR_BAD_VERSION'
  | 'V4_ERR_BAD_PREAMBLE'
  | 'V4_ERR_UNEXPECTED_FRAME'
  | 'V4_ERR_BAD_LENGTH'
  | 'V4_ERR_BAD_MESSAGE'
  | 'V4_ERR_BAD_FIELD'
  | 'V4_ERR_TRUNCATED';

/** The error type of lib/protocol/v4: a framing or message-format failure (wire code 1). */
export class V4ProtocolError extends CodedError<V4ProtocolErrorCode> {
  override readonly name = 'V4ProtocolError';
  readonly wireCode = V4ErrorCode.Malformed;
}
