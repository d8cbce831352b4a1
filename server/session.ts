/**
 * The state one connection builds up, which handlers read and change: the AES key it was
 * given (1602/1605) and to which client, the client's name (for the log), and which upload
 * of each file name it stored (1029/1030/1031 may act on those only).
 */
import { clientIdToHex } from '../lib/protocol';
import type { ConnectionInvite } from './invite-gate';

export interface SessionKey {
  aesKey: Uint8Array;
  clientId: Uint8Array;
}

const tokenKey = (clientId: Uint8Array, fileName: string) => `${clientIdToHex(clientId)}/${fileName}`;

export class Session {
  /** The peer's source key (platform/source-key.ts): what per-source limits count under. */
  readonly source: string;
  /** The AES key this connection holds and the client it was issued to. */
  key: SessionKey | null = null;
  /** Client name when known (1026, 1027). */
  name: string | undefined;
  /** The invite this connection's client is bound to, or its token named (for the log). */
  inviteId: string | undefined;
  readonly #tokens = new Map<string, string>();

  /** Came through a trusted relay (PROXY header), and the invite token it carried (TLV 0xE0). */
  readonly invite: ConnectionInvite;

  constructor(source: string, invite: ConnectionInvite = { relayed: false }) {
    this.source = source;
    this.invite = invite;
  }

  /** The token of the upload of `fileName` this connection stored, if any. */
  tokenOf(clientId: Uint8Array, fileName: string): string | undefined {
    return this.#tokens.get(tokenKey(clientId, fileName));
  }

  setToken(clientId: Uint8Array, fileName: string, token: string): void {
    this.#tokens.set(tokenKey(clientId, fileName), token);
  }

  forgetToken(clientId: Uint8Array, fileName: string): void {
    this.#tokens.delete(tokenKey(clientId, fileName));
  }
}
