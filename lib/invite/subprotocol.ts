/**
 * How an invite travels from the page or the CLI to the bridge: in the WebSocket handshake's
 * `Sec-WebSocket-Protocol` header, never in the URL (the bridge and the proxies in front of it
 * log URLs). The client offers two subprotocols and the bridge selects `sft`:
 *
 *   Sec-WebSocket-Protocol: sft, sft-invite.<token>
 *
 * Every character of a token (base64url and '.') is legal in a subprotocol name (an RFC 7230
 * token). A client without an invite offers `sft` alone, or nothing (older clients).
 */
import { MAX_TOKEN_LENGTH } from './token';

/** The subprotocol the bridge selects; the protocol v3 frames themselves. */
export const SFT_SUBPROTOCOL = 'sft';
/** Prefix of the subprotocol that carries an invite token. */
export const INVITE_SUBPROTOCOL_PREFIX = 'sft-invite.';

/** The subprotocols a client offers, with its invite token or without one. */
export function clientSubprotocols(token?: string): string[] {
  return token === undefined ? [SFT_SUBPROTOCOL] : [SFT_SUBPROTOCOL, INVITE_SUBPROTOCOL_PREFIX + token];
}

/**
 * What a set of offered subprotocols says about an invite: none offered, one token (its text
 * not yet checked), or `malformed` (offered twice, or longer than any token may be: refused
 * before any parsing).
 */
export type OfferedInvite = { kind: 'none' } | { kind: 'token'; token: string } | { kind: 'malformed' };

export function offeredInvite(protocols: Iterable<string>): OfferedInvite {
  let found: string | undefined;
  for (const p of protocols) {
    if (!p.startsWith(INVITE_SUBPROTOCOL_PREFIX)) continue;
    if (found !== undefined) return { kind: 'malformed' };
    found = p.slice(INVITE_SUBPROTOCOL_PREFIX.length);
    if (found.length > MAX_TOKEN_LENGTH) return { kind: 'malformed' };
  }
  return found === undefined ? { kind: 'none' } : { kind: 'token', token: found };
}
