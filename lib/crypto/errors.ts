import { CodedError } from '../protocol/coded-error';

/** Stable codes of every crypto-layer failure; tests assert these, never message text. */
export type CryptoErrorCode =
  | 'CRYPTO_ERR_BAD_PUBLIC_KEY'
  | 'CRYPTO_ERR_BAD_PRIVATE_KEY'
  | 'CRYPTO_ERR_UNWRAP_FAILED'
  | 'CRYPTO_ERR_BAD_PADDING'
  | 'CRYPTO_ERR_BAD_LENGTH'
  | 'CRYPTO_ERR_BAD_ENCODING'
  | 'CRYPTO_ERR_BAD_IDENTITY_FILE'
  | 'CRYPTO_ERR_BAD_TRANSFER_INFO'
  | 'CRYPTO_ERR_STATE';

/** The one error type thrown by lib/crypto. */
export class CryptoError extends CodedError<CryptoErrorCode> {
  override readonly name = 'CryptoError';
}
