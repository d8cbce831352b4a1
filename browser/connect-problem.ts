/**
 * What the page is told when a connection cannot be made: the bridge's close codes (invite
 * refusals, origin, caps), the client session's errors of either protocol, the changed
 * server key of v4. Pure, so the worker's mapping is unit-tested without a WebSocket.
 */
import { ClientError } from '../lib/client/errors';
import { CryptoError } from '../lib/crypto';
import { CLOSE_REASONS, CloseCode } from '../lib/protocol';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { BrowserError } from './errors';
import type { ConnectionProblem, ServerKeyChange } from './upload-protocol';
import { ServerKeyChanged } from './v4-worker';

type CloseInfo = { code: number; reason: string } | undefined;

/** The bridge's invite refusals (4010-4013): the page shows their sentences. */
const INVITE_CLOSES: ReadonlySet<number> = new Set([
  CloseCode.InviteRequired,
  CloseCode.InviteMalformed,
  CloseCode.InviteForged,
  CloseCode.InviteExpired,
]);

export function inviteRefusal(closed: CloseInfo): string | undefined {
  if (!closed || !INVITE_CLOSES.has(closed.code)) return undefined;
  return CLOSE_REASONS[closed.code as CloseCode] ?? closed.reason;
}

/** The bridge refused the connection itself (an invite, the origin, too many): no protocol would do better. */
export function bridgeRefusal(closed: CloseInfo): boolean {
  return (
    inviteRefusal(closed) !== undefined ||
    closed?.code === CloseCode.OriginNotAllowed ||
    closed?.code === CloseCode.TooManyConnections
  );
}

/**
 * How a v4 ClientHello that got no v4 answer (CLIENT_ERR_NOT_V4) ended, the file server being
 * reachable: `answered` when the server said something that is not version 4 (a v3 answer
 * such as 1607, or, through the bridge, its 4007: a reply it could not read as v4 frames,
 * which is how a v3 server's 1607 arrives), `closed` when the server accepted the connection
 * and closed it without a byte (the bridge's 4006: most likely a version 3 server that hangs
 * up on an unknown version, or a restart at that very moment); undefined for anything else.
 */
export function notV4Answer(e: ClientError, closed: CloseInfo): 'answered' | 'closed' | undefined {
  if (e.code !== 'CLIENT_ERR_NOT_V4') return undefined;
  if (e.details.responseCode !== undefined || closed?.code === CloseCode.TargetProtocolError)
    return 'answered';
  if (closed?.code === CloseCode.TargetClosed) return 'closed';
  return undefined;
}

/**
 * Why a protocol v4 identity cannot connect: its key is the identity, and a v3 connection
 * would need another (so the page says so rather than silently registering anew). `closed`:
 * the server hung up on version 4 without a word (the page tries again on its own).
 */
export function needsV4(why: 'server' | 'closed' | 'forced'): string {
  if (why === 'server')
    return 'This browser’s identity uses protocol version 4, but the server answered as a version 3 server, so nothing can be sent as it there. Ask whoever runs the server, or forget this identity to register a version 3 one.';
  if (why === 'closed')
    return 'This browser’s identity uses protocol version 4, but the server closed the connection without answering it, as a version 3 server does, so nothing can be sent as it there. This page tries again on its own in case the server was only restarting; otherwise ask whoever runs the server, or forget this identity to register a version 3 one.';
  return 'This browser’s identity uses protocol version 4, but this page’s address asks for version 3 (?protocol=3). Open the page without it.';
}

/**
 * v4 refusals that pass by themselves (too many attempts, busy, a server failure, a slow
 * connection): the page says them and tries again on its own, with its growing pauses.
 */
const PASSING_V4_REFUSALS: ReadonlySet<number> = new Set([
  V4ErrorCode.RateLimited,
  V4ErrorCode.Busy,
  V4ErrorCode.Internal,
  V4ErrorCode.Timeout,
]);

/**
 * Maps a connect-time failure to what the page tells the person; `retry` when it is worth
 * trying again on its own (a stored identity only: reconnect-policy.ts).
 */
export function connectProblem(
  e: unknown,
  transport: { closeInfo: CloseInfo } | undefined,
): { p: ConnectionProblem; message: string; serverKey?: ServerKeyChange; retry?: true } {
  if (e instanceof ServerKeyChanged)
    return { p: 'server-key-changed', message: e.message, serverKey: e.change };
  const closed = transport?.closeInfo;
  const refusal = inviteRefusal(closed);
  if (refusal) return { p: 'invite', message: refusal };
  if (closed && bridgeRefusal(closed)) {
    return { p: 'refused', message: closed.reason || `The bridge refused the connection (${closed.code}).` };
  }
  const message = closed?.reason || (e instanceof Error ? e.message : String(e));
  // The file server hung up (the bridge's 4006) with no refusal of its own: most likely it
  // is restarting, so the page tries again by itself. (Without this, a restart between the
  // handshake's steps left the page on "server error" until the person pressed retry.)
  const serverGone = closed?.code === CloseCode.TargetClosed;
  if (e instanceof BrowserError && e.code === 'BROWSER_ERR_BRIDGE_UNREACHABLE')
    return { p: 'unreachable', message };
  if (e instanceof ClientError) {
    switch (e.code) {
      case 'CLIENT_ERR_NAME_TAKEN':
      case 'CLIENT_ERR_INVALID_NAME':
        return { p: 'name-taken', message: e.message };
      case 'CLIENT_ERR_RECONNECT_REJECTED':
        return { p: 'rejected', message: e.message };
      case 'CLIENT_ERR_V4_REFUSED': {
        const code = e.details.wireCode;
        const invite = code === V4ErrorCode.InviteRequired || code === V4ErrorCode.InviteInvalid;
        if (invite) return { p: 'invite', message: e.message };
        if (code !== undefined && PASSING_V4_REFUSALS.has(code))
          return { p: 'server-error', message: e.message, retry: true };
        return { p: 'server-error', message: e.message };
      }
      case 'CLIENT_ERR_NOT_V4':
        // A close before any byte (no v3 answer) is the file server going away, not its version:
        // tried again on its own, as when it restarts.
        return e.details.responseCode === undefined
          ? { p: 'unreachable', message }
          : { p: 'server-error', message: e.message };
      case 'CLIENT_ERR_TIMEOUT':
        // Our deadline closed it (page-transport.ts): tried again on its own, like a lost connection.
        return { p: 'stopped-answering', message: e.message, retry: true };
      case 'CLIENT_ERR_CONNECTION_CLOSED':
      case 'CLIENT_ERR_SESSION_CLOSED':
        // The bridge accepted the WebSocket but could not reach the file server.
        return { p: 'unreachable', message };
      default:
        return serverGone ? { p: 'unreachable', message } : { p: 'server-error', message: e.message };
    }
  }
  if (e instanceof CryptoError && e.code === 'CRYPTO_ERR_UNWRAP_FAILED') return { p: 'wrong-key', message };
  return { p: serverGone ? 'unreachable' : 'server-error', message };
}
