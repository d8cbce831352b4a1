/**
 * `--invite LINK` (issue 15): the link an owner gave, or its bare token. Checked here before
 * any connection, from what the token itself says (form and expiry; only the bridge and the
 * server can check its signature), then offered to the bridge in the WebSocket handshake
 * (or, over direct TCP with protocol v4, sent in ClientAuth). A fingerprint in the link is the
 * server key the first v4 connection must find.
 */
import {
  fingerprintFromLink,
  InviteError,
  type InvitePayload,
  readInviteUnverified,
  tokenFromLink,
} from '../lib/invite';
import { CLOSE_REASONS, CloseCode } from '../lib/protocol';
import { CliError } from './errors';

export interface CheckedInvite {
  /** As given (a link or a token), what invite.link keeps. */
  text: string;
  token: string;
  payload: InvitePayload;
  /** The server key fingerprint the link carries (checked at the first v4 connection). */
  fingerprint?: string;
}

/** The token of `text`, or CLI_ERR_USAGE with a sentence saying what is wrong with it. */
export function checkInvite(
  text: string,
  where: string,
  nowSeconds = Math.floor(Date.now() / 1000),
): CheckedInvite {
  let token: string;
  let payload: InvitePayload;
  let fingerprint: string | undefined;
  try {
    token = tokenFromLink(text);
    payload = readInviteUnverified(token);
    fingerprint = fingerprintFromLink(text);
  } catch (e) {
    if (!(e instanceof InviteError)) throw e;
    throw new CliError(
      'CLI_ERR_USAGE',
      `${where} is not a usable invite: ${e.message} Copy the whole link the owner of the server gave you.`,
      { cause: e },
    );
  }
  if (nowSeconds >= payload.exp) {
    throw new CliError(
      'CLI_ERR_USAGE',
      `${where} expired at ${new Date(payload.exp * 1000).toISOString()}; ask the owner of the server for a new link and pass it with --invite LINK.`,
    );
  }
  return { text: text.trim(), token, payload, ...(fingerprint !== undefined ? { fingerprint } : {}) };
}

const INVITE_CLOSES: ReadonlySet<number> = new Set([
  CloseCode.InviteRequired,
  CloseCode.InviteMalformed,
  CloseCode.InviteForged,
  CloseCode.InviteExpired,
]);

/** The sentence for a handshake the bridge refused for its invite (4010-4013); null for any other close. */
export function inviteRefusal(closeCode: number | null, source: string | null): string | null {
  if (closeCode === null || !INVITE_CLOSES.has(closeCode)) return null;
  const reason = CLOSE_REASONS[closeCode as CloseCode];
  const from = source === null ? '' : ` (the invite from ${source})`;
  const hint =
    closeCode === CloseCode.InviteRequired
      ? ' Pass the link you were given with --invite LINK.'
      : ' Pass a new one with --invite LINK.';
  return `The bridge refused the connection${from}: ${reason} (close ${closeCode})${hint}`;
}
