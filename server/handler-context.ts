/** What every request handler is given besides its request: the layers below it and the connection's state. */
import type { Database } from './database';
import type { FileStore } from './file-store';
import type { Session } from './session';

export interface HandlerContext {
  db: Database;
  files: FileStore;
  session: Session;
  /** The time to record (ISO 8601), read once per request. */
  now: string;
}
