import { CodedError } from '../protocol/coded-error';
import { V4ErrorCode } from '../protocol/v4/constants';

/** Stable codes of the v4 cryptographic layer; tests assert these, never message text. */
export type V4ErrorKind =
  /** A handshake message did not decrypt or a signature did not verify. */
  | 'V4_ERR_HANDSHAKE'
  /** The server's key is not the pinned one. */
  | 'V4_ERR_PINNED_KEY_CHANGED'
  /** A Sealed frame did not verify after the handshake. */
  | 'V4_ERR_RECORD'
  /** A file record did not verify, or came after the last. */
  | 'V4_ERR_STREAM'
  /** A frame or message that this state does not allow. */
  | 'V4_ERR_STATE'
  /** A key that cannot be used (wrong size, all-zero shared secret). */
  | 'V4_ERR_BAD_KEY'
  /** The peer sent an Alert or a fatal Error. */
  | 'V4_ERR_PEER';

const WIRE: Record<V4ErrorKind, number> = {
  V4_ERR_HANDSHAKE: V4ErrorCode.HandshakeFailed,
  V4_ERR_PINNED_KEY_CHANGED: V4ErrorCode.HandshakeFailed,
  V4_ERR_RECORD: V4ErrorCode.Malformed,
  V4_ERR_STREAM: V4ErrorCode.RecordInvalid,
  V4_ERR_STATE: V4ErrorCode.Malformed,
  V4_ERR_BAD_KEY: V4ErrorCode.HandshakeFailed,
  V4_ERR_PEER: V4ErrorCode.Internal,
};

/**
 * The error type of lib/v4. `wireCode` is the code to send the peer about it. `inTheClear`:
 * a V4_ERR_PEER from an Alert, which carries no key (anyone on the path can write one), not
 * from a sealed Error.
 */
export class V4Error extends CodedError<V4ErrorKind> {
  override readonly name = 'V4Error';
  readonly wireCode: number;
  readonly inTheClear: boolean;
  constructor(
    code: V4ErrorKind,
    message: string,
    opts: { wireCode?: number; cause?: unknown; inTheClear?: boolean } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.wireCode = opts.wireCode ?? WIRE[code];
    this.inTheClear = opts.inTheClear === true;
  }
}
