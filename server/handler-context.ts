/** What every request handler is given besides its request: the layers below it and the connection's state. */
import type { Database } from './database';
import type { FileStore } from './file-store';
import type { InviteGate } from './invite-gate';
import type { PeerLimits } from './peer-limits';
import type { Session } from './session';

export interface HandlerContext {
  db: Database;
  files: FileStore;
  session: Session;
  /** Per-source and per-client rate limits, shared by the server's connections. */
  limits: PeerLimits;
  /** Registered clients at most (1025 past it: 1601). */
  maxClients: number;
  /** Invite checks against the database (revocation, slots, the token's signature). */
  invites: InviteGate;
  /** The time to record (ISO 8601), read once per request. */
  now: string;
}
