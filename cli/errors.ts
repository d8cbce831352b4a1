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

/** Ctrl-C while a file was being sent: what the next run of the same command does with it. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
  constructor(
    readonly fileName: string,
    /** Protocol 4 kept the upload (v4-uploads.json) and the server holds it: a next run resumes. */
    readonly resumable: boolean,
    readonly protocol: 3 | 4,
    options?: { cause?: unknown },
  ) {
    super(`Interrupted while sending ${fileName}.`, options);
  }
}

/** The line a Ctrl-C ends with: what became of the file being sent, when one was. */
export function interruptedLine(e: unknown): string {
  if (!(e instanceof Interrupted)) return 'Interrupted.';
  if (e.resumable)
    return `Interrupted. Run the same command again to continue ${e.fileName} from where the server has it.`;
  if (e.protocol === 3)
    return `Interrupted. Protocol 3 cannot resume: the next run sends ${e.fileName} from the start.`;
  return `Interrupted. The server had not taken ${e.fileName} yet: the next run sends it from the start.`;
}
