/**
 * What an invite allows, decided from the database on every request that needs it (issue 15):
 * nothing is cached beyond one request, so `invite revoke` in another process takes effect
 * at this server's next 1025, 1027 or file start.
 *
 * - 1025: a token from the bridge (PROXY v2 TLV 0xE0, trusted relays only) is verified again
 *   here (signature and expiry: the bridge cannot mint), then its row must exist, be in force
 *   and have a free client slot; the new client is bound to it. In invite mode a relayed 1025
 *   without a token is refused. Direct connections (--tcp-allow) register as before.
 * - 1027 and each file of a client bound to an invite: refused once it is revoked or expired.
 * Refusals carry a `reason` for the log line; a token is never logged, its invite ID is.
 */
import { InviteError, verifyInvite } from '../lib/invite';
import type { AccessMode } from '../lib/invite/access';
import type { Database, InviteRow, InviteSlot } from './database';
import { ServerError } from './errors';

/** Why a request was refused, as logged (`reason`). */
export type RefusalReason =
  | 'invite-required'
  | 'invite-malformed'
  | 'invite-forged'
  | 'invite-expired'
  | 'invite-unknown'
  | 'invite-revoked'
  | 'invite-full'
  | 'client-removed'
  | 'over-invite-bytes'
  | 'over-invite-files'
  | 'over-client-bytes'
  | 'over-client-files'
  | 'over-total-bytes'
  | 'disk-reserve';

/** A request refused by an invite or a limit: 1601 for 1025, 1607 otherwise; `reason` is logged. */
export class RefusedError extends ServerError {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super('SERVER_ERR_REFUSED', message);
  }
}

const TOKEN_REASONS: Record<InviteError['code'], RefusalReason> = {
  INVITE_ERR_MALFORMED: 'invite-malformed',
  INVITE_ERR_FORGED: 'invite-forged',
  INVITE_ERR_EXPIRED: 'invite-expired',
  INVITE_ERR_BAD_KEY: 'invite-forged',
};

/** What a connection brings: whether it came through a trusted relay, and the token it carried. */
export interface ConnectionInvite {
  relayed: boolean;
  token?: string;
}

/** Revoked or expired (at `nowMs`), else null. */
export function inviteRefusal(row: InviteRow, nowMs: number): RefusalReason | null {
  if (row.RevokedAt !== null) return 'invite-revoked';
  if (Date.parse(row.ExpiresAt) <= nowMs) return 'invite-expired';
  return null;
}

export class InviteGate {
  readonly #db: Database;
  readonly #publicKey: CryptoKey;
  readonly #access: AccessMode;

  constructor(db: Database, publicKey: CryptoKey, access: AccessMode) {
    this.#db = db;
    this.#publicKey = publicKey;
    this.#access = access;
  }

  get access(): AccessMode {
    return this.#access;
  }

  /**
   * For a 1025: the invite slot to bind the new client to (undefined: unbound, as before).
   * `seen` is told the invite ID once the token is verified (for the log). Throws RefusedError.
   */
  async forRegistration(
    conn: ConnectionInvite,
    nowMs: number,
    seen: (inviteId: string) => void = () => {},
  ): Promise<InviteSlot | undefined> {
    if (conn.token === undefined) {
      if (this.#access === 'invite' && conn.relayed) {
        throw new RefusedError(
          'invite-required',
          'This server registers new senders with an invite link only.',
        );
      }
      return undefined;
    }
    let id: string;
    try {
      id = (await verifyInvite(conn.token, this.#publicKey, Math.floor(nowMs / 1000))).id;
    } catch (e) {
      if (e instanceof InviteError) throw new RefusedError(TOKEN_REASONS[e.code], e.message);
      throw e;
    }
    seen(id);
    const row = await this.#db.inviteById(id);
    if (!row) throw new RefusedError('invite-unknown', `Invite ${id} is not in this server's database.`);
    this.check(row, nowMs);
    if ((await this.#db.inviteUsage(id)).clients >= row.MaxClients) {
      throw new RefusedError('invite-full', `Invite ${id} has no free client slot.`);
    }
    return { id, maxClients: row.MaxClients };
  }

  /** Throws RefusedError when the invite is revoked or expired. */
  check(row: InviteRow, nowMs: number): void {
    const reason = inviteRefusal(row, nowMs);
    if (reason)
      throw new RefusedError(
        reason,
        `Invite ${row.ID} is ${reason === 'invite-revoked' ? 'revoked' : 'expired'}.`,
      );
  }

  /** For a 1027 or a file of a client bound to `inviteId`: throws RefusedError once it is revoked or expired. */
  async checkBound(inviteId: string | null, nowMs: number): Promise<void> {
    if (inviteId === null) return;
    const row = await this.#db.inviteById(inviteId);
    if (!row) throw new RefusedError('invite-unknown', `Invite ${inviteId} is gone.`);
    this.check(row, nowMs);
  }
}
