import { CodedError } from '../lib/protocol';

/** Stable codes of the CLI's own failures (the session's are ClientError codes). */
export type CliErrorCode =
  /** Bad command line. */
  | 'CLI_ERR_USAGE'
  /** transfer.info / me.info / priv.key missing or malformed, or contradicting the flags. */
  | 'CLI_ERR_CONFIG'
  /** A file to send is missing, unreadable, not a regular file or too large. */
  | 'CLI_ERR_FILE'
  /** me.info / priv.key could not be written. */
  | 'CLI_ERR_IDENTITY_WRITE';

export class CliError extends CodedError<CliErrorCode> {
  override readonly name = 'CliError';
}
