/**
 * WebSocket close codes the bridge sends, each with the reason a person reads: a wire
 * contract between the bridge and the browser's worker, which both import it from here. Codes
 * 4000-4999 are the range RFC 6455 leaves to applications; 1001 and 1009 are standard.
 * A close reason must fit 123 bytes (RFC 6455 5.5: control frame payload minus the code).
 */
export const CloseCode = {
  /** Normal close after the client closed. */
  Normal: 1000,
  /** The bridge is shutting down (SIGINT/SIGTERM). */
  GoingAway: 1001,
  /** The message is larger than maxPayload; sent by `ws` itself before buffering it. */
  MessageTooBig: 1009,
  /** A text message arrived; the protocol is binary frames only. */
  TextNotAllowed: 4000,
  /** A binary message is not exactly one well-formed request frame. */
  MalformedFrame: 4001,
  /** The frame's declared payload exceeds the bridge's limit. */
  FrameTooLarge: 4002,
  /** The page's Origin is not on the allowed list. */
  OriginNotAllowed: 4003,
  /** Too many connections in total or from this address. */
  TooManyConnections: 4004,
  /** The bridge could not connect to the file server. */
  TargetUnreachable: 4005,
  /** The file server closed its side (or the TCP connection failed). */
  TargetClosed: 4006,
  /** The file server sent bytes that are not a valid response frame. */
  TargetProtocolError: 4007,
  /** No message in either direction for the idle timeout. */
  IdleTimeout: 4008,
  /** The bridge is in invite mode and the connection offered no invite. */
  InviteRequired: 4010,
  /** The offered invite is not a well-formed invite token. */
  InviteMalformed: 4011,
  /** The offered invite's signature is not this server's (forged, altered, another server's). */
  InviteForged: 4012,
  /** The offered invite has expired. */
  InviteExpired: 4013,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Human reasons, sent in the close frame (kept under 123 bytes; checked by a test). */
export const CLOSE_REASONS: Readonly<Record<CloseCode, string>> = {
  [CloseCode.Normal]: 'Closed.',
  [CloseCode.GoingAway]: 'The bridge is shutting down; reconnect in a moment.',
  [CloseCode.MessageTooBig]: 'Message too big for this bridge.',
  [CloseCode.TextNotAllowed]: 'Text messages are not allowed; send binary protocol frames.',
  [CloseCode.MalformedFrame]:
    'Malformed frame: each message must be whole protocol frames (one v3 request, or up to 16 v4 frames).',
  [CloseCode.FrameTooLarge]: 'Frame too large for this bridge; use smaller packets.',
  [CloseCode.OriginNotAllowed]: 'This page is not allowed to use the bridge (Origin not allowed).',
  [CloseCode.TooManyConnections]: 'Too many connections; close other tabs or try again later.',
  [CloseCode.TargetUnreachable]: 'File server unreachable; try again later or tell the operator.',
  [CloseCode.TargetClosed]: 'The file server closed the connection.',
  [CloseCode.TargetProtocolError]: 'The file server sent an invalid response.',
  [CloseCode.IdleTimeout]: 'Closed after being idle; reconnect to continue.',
  [CloseCode.InviteRequired]: 'You need an invite link from the owner of this server.',
  [CloseCode.InviteMalformed]: 'This invite link is damaged; ask for a new one or copy it again whole.',
  [CloseCode.InviteForged]: 'This invite link was not made by this server; ask its owner for a new one.',
  [CloseCode.InviteExpired]: 'This invite link has expired; ask its owner for a new one.',
};

/** Longest close reason RFC 6455 allows in bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;

export function closeReason(code: CloseCode): string {
  return CLOSE_REASONS[code];
}

/**
 * Largest message a client takes from the bridge. The bridge sends one frame per message, at
 * most 4,118 bytes (a v4 Sealed frame; a v3 response is at most 4,103): anything larger is not
 * from a working bridge. The CLI's ws refuses it before buffering it (1009, cli/ws-transport.ts;
 * ws would otherwise join fragments up to 100 MiB); a browser's WebSocket delivers a message
 * whole before the page can judge it, so the page closes the connection on it
 * (browser/ws-transport.ts). Fixed (with room): the protocol bounds every frame, there is
 * nothing to tune.
 */
export const MAX_BRIDGE_MESSAGE_BYTES = 64 * 1024;
