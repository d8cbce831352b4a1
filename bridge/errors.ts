import { CodedError } from '../lib/protocol';

/** Stable codes of every bridge-layer failure; tests assert these, never message text. */
export type BridgeErrorCode =
  | 'BRIDGE_ERR_CONFIG'
  /** --invite-key names no readable file, or not a 32-byte Ed25519 public key in base64url. */
  | 'BRIDGE_ERR_INVITE_KEY'
  | 'BRIDGE_ERR_FRAME_TRUNCATED'
  | 'BRIDGE_ERR_FRAME_BAD_VERSION'
  | 'BRIDGE_ERR_FRAME_UNKNOWN_CODE'
  /** The declared payload size is not one the request code allows (1025 is 255 bytes, ...). */
  | 'BRIDGE_ERR_FRAME_BAD_SIZE'
  | 'BRIDGE_ERR_FRAME_SIZE_MISMATCH'
  | 'BRIDGE_ERR_FRAME_TOO_LARGE';

/** The one error type thrown by bridge/. */
export class BridgeError extends CodedError<BridgeErrorCode> {
  override readonly name = 'BridgeError';
}
