import { CodedError } from '../protocol/coded-error';

/** Stable codes of every client-session failure; tests assert these, never message text. */
export type ClientErrorCode =
  /** 1601: the server refused the name (taken or not allowed). */
  | 'CLIENT_ERR_NAME_TAKEN'
  /** 1606 where the caller cannot fall back to registering anew. */
  | 'CLIENT_ERR_RECONNECT_REJECTED'
  /** 1607: general server error. */
  | 'CLIENT_ERR_SERVER_ERROR'
  /** A well-formed response with a code that does not answer the request sent. */
  | 'CLIENT_ERR_UNEXPECTED_RESPONSE'
  /** The connection could not be opened (refused, unknown host, timeout). Transports throw it. */
  | 'CLIENT_ERR_UNREACHABLE'
  /** The connection closed while a request was being sent or its response was due. */
  | 'CLIENT_ERR_CONNECTION_CLOSED'
  /** The client closed the connection: the server kept it waiting past its deadline (lib/client/answer-deadline.ts; the CLI's --timeout). */
  | 'CLIENT_ERR_TIMEOUT'
  /** The server's CRC differed from ours on every attempt. */
  | 'CLIENT_ERR_CRC_MISMATCH'
  /** Cancelled through the AbortSignal. */
  | 'CLIENT_ERR_CANCELLED'
  /** The file is larger than a u32 Content size allows. */
  | 'CLIENT_ERR_FILE_TOO_LARGE'
  /** The file source yielded a different number of bytes than it declared. */
  | 'CLIENT_ERR_SOURCE'
  /** The server sent bytes that are not a valid protocol v3 response. */
  | 'CLIENT_ERR_PROTOCOL'
  /** A client or file name that cannot travel in a 255-byte name field. */
  | 'CLIENT_ERR_INVALID_NAME'
  /** The session was used after a fatal error or cancellation closed its connection. */
  | 'CLIENT_ERR_SESSION_CLOSED'
  /** Protocol v4: the server answered as a version 3 server (or closed before answering). */
  | 'CLIENT_ERR_NOT_V4'
  /** Protocol v4: the server's key is not the one pinned for it. */
  | 'CLIENT_ERR_SERVER_KEY_CHANGED'
  /** Protocol v4: the server could not be authenticated, or broke the protocol. */
  | 'CLIENT_ERR_V4_HANDSHAKE'
  /** Protocol v4: the server refused with an error code (details.wireCode). */
  | 'CLIENT_ERR_V4_REFUSED'
  /** Protocol v4: the SHA-256 the server reported differs from ours. */
  | 'CLIENT_ERR_HASH_MISMATCH';

/** Details some failures carry for the caller to show (e.g. both CRCs after 4 attempts). */
export interface ClientErrorDetails {
  /** Attempts made at sending the file. */
  attempts?: number;
  /** Our cksum of the plaintext. */
  cksum?: number;
  /** The cksum the server reported in its last 1603. */
  serverCksum?: number;
  /** Response code received, for unexpected responses. */
  responseCode?: number;
  /** Request code that was being answered. */
  requestCode?: number;
  /** Protocol v4 error code (Alert or Error). */
  wireCode?: number;
  /** Protocol v4: the reason text the server sent with it, when it differs from the code's sentence. */
  serverReason?: string;
  /**
   * CLIENT_ERR_V4_REFUSED: the refusal came as an Alert in the clear, not a sealed Error. It
   * carries no key, so anyone on the path can write one: nothing is decided on its code.
   */
  inTheClear?: boolean;
  /** The first answer was HTTP: a web server or the bridge listens there, not the file server. */
  answeredHttp?: boolean;
  /**
   * CLIENT_ERR_CONNECTION_CLOSED: what ended the connection, in a few words, when the transport
   * knows (the socket's error as Node words it, "read ECONNRESET"; a WebSocket's close code).
   */
  lostBecause?: string;
}

/** The one error type thrown by lib/client. */
export class ClientError extends CodedError<ClientErrorCode> {
  override readonly name = 'ClientError';
  constructor(
    code: ClientErrorCode,
    message: string,
    readonly details: ClientErrorDetails = {},
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** True for a ClientError with one of `codes` (or any code when none are given). */
export function isClientError(e: unknown, ...codes: ClientErrorCode[]): e is ClientError {
  return e instanceof ClientError && (codes.length === 0 || codes.includes(e.code));
}
