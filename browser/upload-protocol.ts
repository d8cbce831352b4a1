/**
 * Messages between the page and the upload worker. The worker owns the WebSocket and the
 * lib/client session; the page owns IndexedDB, the queue and the UI. Everything here is
 * structured-cloneable (File and CryptoKey included).
 */
import type { SendPhase } from '../lib/client/types';
import type { ProtocolChoice } from './v4-rules';

/** Why the connection is not usable, as the page explains it to a person. */
export type ConnectionProblem =
  /** The bridge's WebSocket did not open. */
  | 'unreachable'
  /** The bridge refused this page (origin not allowed, too many connections). */
  | 'refused'
  /** 1601: the name is taken (or refused). */
  | 'name-taken'
  /** 1606: the server does not know this identity any more. */
  | 'rejected'
  /** 1607 or an unexpected/malformed answer. */
  | 'server-error'
  /** The private key cannot decrypt the server's AES key (wrong me.info). */
  | 'wrong-key'
  /** The connection dropped after it was established. */
  | 'lost'
  /** The server kept the page waiting past its deadline, so the page closed the connection (tried again on its own). */
  | 'stopped-answering'
  /** The bridge refused the invite (4010-4013): none offered, damaged, forged or expired. */
  | 'invite'
  /** Protocol v4: the server offered another key than the one pinned for it; nothing was sent. */
  | 'server-key-changed'
  /** This browser's identity is a protocol v4 one and the server (or `?protocol=3`) speaks only v3. */
  | 'needs-v4';

/**
 * Two fingerprints (`SHA256:...`) of one server that disagree; nothing was sent. `kind`:
 * `pin-server` (absent: the same) the server offered `offered`, this browser pinned `pinned`;
 * `link-server` the server offered `offered`, the invite link's `server=` said `pinned`;
 * `pin-link` before connecting, the invite link says `offered`, this browser pinned `pinned`.
 */
export interface ServerKeyChange {
  /** The bridge's host:port, the pin's key. */
  address: string;
  pinned: string;
  offered: string;
  kind?: 'pin-server' | 'link-server' | 'pin-link';
}

export type ToWorker =
  /**
   * Register `name` and answer `connected`: by protocol v4 (ClientAuth with the name registers
   * this browser's v4 key; no RSA key) when it is spoken, else v3's 1025/1026 with a new RSA key.
   */
  | {
      type: 'register';
      url: string;
      name: string;
      invite?: string;
      protocol?: ProtocolChoice;
      /** The invite link's `server=` fingerprint: the first v4 connection is checked against it. */
      serverFingerprint?: string;
    }
  /** Reconnect with a stored identity: v3's 1027 (or v4 for files), or v4 only without `privateKey`. */
  | {
      type: 'reconnect';
      url: string;
      name: string;
      clientId: Uint8Array;
      /** The v3 identity's RSA key; absent for a protocol v4 identity (its key is the v4 key). */
      privateKey?: CryptoKey;
      serverFingerprint?: string;
      /** The invite token offered at the WebSocket handshake (this and every later reconnect). */
      invite?: string;
      /** Which protocol to speak for files (`?protocol=`); auto: 4, else 3 if the server has only 3. */
      protocol?: ProtocolChoice;
    }
  /** Send one file over the established connection. */
  | { type: 'upload'; id: string; file: File }
  /** Cancel the upload `id` (the connection is closed and re-established). */
  | { type: 'cancel'; id: string }
  /** Close the connection. */
  | { type: 'disconnect' };

export type FromWorker =
  | { type: 'connecting' }
  | {
      type: 'connected';
      name: string;
      clientId: Uint8Array;
      via: 'register' | 'reconnect';
      /** Only after a v3 register: the new non-extractable key to store (none for a v4 identity). */
      privateKey?: CryptoKey;
      /** Only after register: PKCS#8 of the same key, for the one-time me.info download. */
      privateKeyPkcs8?: Uint8Array;
      /** The protocol files go by on this connection (3 when absent). */
      protocol?: 3 | 4;
    }
  | {
      type: 'problem';
      problem: ConnectionProblem;
      message: string;
      serverKey?: ServerKeyChange;
      /** The cause may pass by itself (a server that hung up on v4 may have been restarting): the page tries again on its own. */
      retry?: true;
    }
  /** Something the person should read about the file being sent (e.g. a resume refused: it starts again). */
  | { type: 'notice'; id: string; message: string }
  | {
      type: 'progress';
      id: string;
      phase: SendPhase;
      attempt: number;
      bytesRead: number;
      bytesSent: number;
      size: number;
      /** Bytes the browser accepted but has not sent yet (WebSocket bufferedAmount). */
      inFlight: number;
      /** Protocol v4: the record this attempt started at (above 0: resumed; the bytes before it were sent earlier). */
      resumedFrom?: number;
    }
  | {
      type: 'done';
      id: string;
      outcome: 'verified' | 'failed' | 'cancelled';
      attempts: number;
      cksum?: number;
      serverCksum?: number;
      /** For failures: the error's text (for the server's owner: the page says it in words). */
      message?: string;
      /** For failures: the error's stable code (ClientError codes), e.g. CLIENT_ERR_CONNECTION_CLOSED. */
      code?: string;
      /** The protocol the file went by (3 when absent). */
      protocol?: 3 | 4;
      /** Protocol v4: the server's error code (its sentence is V4_ERROR_SENTENCES). */
      v4Code?: number;
      /** Protocol v4: the server's own words with that code (over quota, too large: which limit). */
      serverReason?: string;
      /** Protocol v4, verified: the server's SHA-256 of what it stored (hex). */
      sha256?: string;
      /** Protocol v4, verified: the name the server stored it under. */
      storedName?: string;
      /** Protocol v4: the record the server asked for first (above 0: resumed). */
      resumedFrom?: number;
    };
