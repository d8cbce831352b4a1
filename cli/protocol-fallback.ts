/**
 * `--protocol auto`'s one rule: protocol 4 first, and protocol 3 on a new connection only when
 * the first v4 connection showed that 3 is what will serve:
 * - the server does not speak 4 (CLIENT_ERR_NOT_V4: a 1607, or a close before any answer);
 * - under an invite, the v4 key was refused as "invite not valid" (Error 5) while the folder
 *   holds a protocol 3 identity (me.info): the invite's client slot is most likely held by that
 *   identity, which protocol 3 can still use (the server sends one sentence for a full, revoked
 *   or expired invite; if it was not the slot, the protocol 3 run says what it was).
 * `--protocol 4` never falls back; in the second case its error says how to proceed.
 */
import path from 'node:path';
import { ClientError } from '../lib/client';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { ME_INFO } from './identity-store';

export interface FallbackContext {
  dir: string;
  /** An invite is offered (given, or kept in invite.link). */
  invite: unknown | null;
  /** The folder holds a protocol 3 identity. */
  identity: unknown | null;
}

export interface Fallback {
  /** The one line that says why protocol 3 is used. */
  line: string;
  /** The server speaks 4 (ours), so protocol 3 goes without the reference client's padding. */
  ours: boolean;
  /** For --protocol 4: the sentence added to its error (how to proceed), if any. */
  forced?: string;
}

/** Why protocol 3 would serve after protocol 4's first connection failed with `e`; null if it would not. */
export function protocol3Fallback(e: unknown, ctx: FallbackContext): Fallback | null {
  if (!(e instanceof ClientError)) return null;
  if (e.code === 'CLIENT_ERR_NOT_V4')
    return { line: `${e.message} Using protocol 3 on a new connection.`, ours: false };
  if (
    e.code === 'CLIENT_ERR_V4_REFUSED' &&
    e.details.wireCode === V4ErrorCode.InviteInvalid &&
    ctx.invite !== null &&
    ctx.identity !== null
  ) {
    const meInfo = path.join(ctx.dir, ME_INFO);
    return {
      line: `This invite's client slot is held by your protocol 3 identity (${meInfo}); sending with protocol 3 on a new connection.`,
      ours: true,
      forced:
        `This invite's client slot is most likely held by your protocol 3 identity (${meInfo}): send as that ` +
        'identity with --protocol 3 (or auto, the default), or ask the owner of the server for an invite with ' +
        'another client slot (invite create --max-clients 2) for protocol 4.',
    };
  }
  return null;
}

/** `e` with the sentence of --protocol 4's case added (the same code and details). */
export function withHint(e: ClientError, hint: string): ClientError {
  return new ClientError(e.code, `${e.message} ${hint}`, e.details, { cause: e });
}
