import { CodedError } from '../protocol/coded-error';

/** Why an invite was refused; the page and the CLI turn each into a sentence. */
export type InviteErrorCode =
  /** Not an invite at all: wrong prefix, bad encoding, missing or ill-typed fields, too long. */
  | 'INVITE_ERR_MALFORMED'
  /** Well-formed, but its signature is not the server's: forged, altered, or for another server. */
  | 'INVITE_ERR_FORGED'
  /** Past its expiry time. */
  | 'INVITE_ERR_EXPIRED'
  /** The signing key given to sign or verify is not an Ed25519 key of the right kind. */
  | 'INVITE_ERR_BAD_KEY';

export class InviteError extends CodedError<InviteErrorCode> {
  override readonly name = 'InviteError';
}
