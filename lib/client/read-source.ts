/** Reading a FileSource for the session: its failures become CLIENT_ERR_SOURCE errors. */
import { ClientError } from './errors';
import type { FileSource } from './types';

/** The source's chunks; a failure to read becomes CLIENT_ERR_SOURCE. Closes the source on early exit. */
export async function* readSource(source: FileSource): AsyncGenerator<Uint8Array> {
  let iterator: AsyncIterator<Uint8Array>;
  try {
    iterator = source.open()[Symbol.asyncIterator]();
  } catch (cause) {
    throw sourceReadError(source.name, cause);
  }
  let done = false;
  try {
    for (;;) {
      let step: IteratorResult<Uint8Array>;
      try {
        step = await iterator.next();
      } catch (cause) {
        done = true; // a failed iterator needs no return()
        throw sourceReadError(source.name, cause);
      }
      if (step.done) {
        done = true;
        return;
      }
      yield step.value;
    }
  } finally {
    if (!done) await iterator.return?.();
  }
}

function sourceReadError(fileName: string, cause: unknown): ClientError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new ClientError(
    'CLIENT_ERR_SOURCE',
    `Reading "${fileName}" failed: ${why}. Check that the file is still there and readable.`,
    {},
    { cause },
  );
}

export function sourceSizeError(fileName: string, size: number, got: string): ClientError {
  return new ClientError(
    'CLIENT_ERR_SOURCE',
    `The file "${fileName}" was expected to have ${size} bytes but reading it gave ${got}; ` +
      'it changed while being sent. Send it again once it no longer changes.',
  );
}
