/**
 * `--protocol auto`'s one rule: protocol 4 first, and protocol 3 on a new connection only when
 * the first v4 connection showed that 3 is what will serve:
 * - the server does not speak 4 (CLIENT_ERR_NOT_V4: a 1607, or a close before any answer);
 * - under an invite, the v4 key was refused as "invite not valid" (Error 5) while the folder
 *   holds a protocol 3 identity (me.info): the invite's client slot is most likely held by that
 *   identity, which protocol 3 can still use (the server sends one sentence for a full, revoked
 *   or expired invite; if it was not the slot, the protocol 3 run says what it was). Only the
 *   server's sealed Error 5, sent once it proved its key: an Alert 5 in the clear is anyone's
 *   (the server seals its refusal of an invite), and taking it let a man in the middle have the
 *   CLI register a new RSA key with him, replace me.info, and send him the file.
 * `--protocol 4` never falls back; in the second case its error says how to proceed.
 *
 * The first case is never taken against a server known to speak 4 (its key pinned in
 * known_servers, or named by the invite link): a close or a 1607 carries no key, so anyone
 * on the path can send one, and protocol 3 checks no server key at all. Taken, it let a man
 * in the middle have the CLI register a new RSA key with him and send him the file.
 *
 * And one rule decided before connecting, the page's (browser/v4-rules.ts v3IdentityWantsV4):
 * under `auto`, a folder with a protocol 3 identity (me.info) that sends under an invite through
 * a bridge speaks protocol 3 at once, unless its v4 key was welcomed before (v4.name): that
 * identity's registration took the invite's client slot, so the v4 key would be refused with
 * Error 5 on every run (the second case above, now only a safety net: over direct TCP protocol
 * 3 cannot carry the invite, so there v4 is still tried first).
 */
import path from 'node:path';
import { ClientError } from '../lib/client';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { ME_INFO } from './identity-store';
import { KNOWN_SERVERS_FILE, KnownServers } from './v4-store';

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
    e.details.inTheClear !== true &&
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

export interface BeforehandContext {
  dir: string;
  /** The invite is carried by protocol 3 too: the server is a ws:// bridge. */
  throughBridge: boolean;
  invite: unknown | null;
  identity: unknown | null;
  /** The name kept with the v4 key (v4.name): null when no server welcomed that key yet. */
  v4Name: string | null;
}

/**
 * Under `auto`, before any connection: the one line that says why protocol 3 is used at once,
 * or null when protocol 4 is tried first (the rule above).
 */
export function protocol3Beforehand(ctx: BeforehandContext): string | null {
  if (!ctx.throughBridge || ctx.invite === null || ctx.identity === null || ctx.v4Name !== null) return null;
  return (
    `Sending with protocol 3 as your protocol 3 identity (${path.join(ctx.dir, ME_INFO)}): it holds this invite's client slot. ` +
    'Use --protocol 4 for protocol 4 (it needs an invite with another client slot).'
  );
}

/**
 * Why the server at `address` is known to speak protocol 4, or null: its key pinned in
 * known_servers (a run before spoke 4 with it), or the invite link naming its key.
 */
export async function knownV4(
  dir: string,
  address: string,
  invite: { fingerprint?: string; source: string } | null,
): Promise<string | null> {
  const pinned = await new KnownServers(dir).pinnedFor(address);
  if (pinned !== null) return `its protocol 4 key is pinned in ${path.join(dir, KNOWN_SERVERS_FILE)}`;
  if (invite?.fingerprint !== undefined) return `${invite.source} names its protocol 4 key`;
  return null;
}

/** The sentence added to a "not version 4" error from a server `knownV4` says speaks 4. */
export function downgradeHint(address: string, why: string): string {
  return (
    `Not trying protocol 3: the server at ${address} spoke protocol 4 before (${why}), and anyone on the path can close ` +
    'a connection or answer as a version 3 server to make the CLI send with protocol 3, which checks no server key. ' +
    'Nothing was sent. Try again later; if the owner of the server confirms it now speaks only protocol 3, send with --protocol 3.'
  );
}

/** `e` with the sentence of --protocol 4's case added (the same code and details). */
export function withHint(e: ClientError, hint: string): ClientError {
  return new ClientError(e.code, `${e.message} ${hint}`, e.details, { cause: e });
}
