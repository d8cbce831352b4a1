/**
 * The bridge's part of issue 15: at the WebSocket handshake, the invite a client offers (in
 * `Sec-WebSocket-Protocol`, lib/invite/subprotocol.ts) is checked for form, signature and
 * expiry with the server's invite PUBLIC key, so the bridge can refuse a bad link with a close
 * code the page shows, and holds nothing that could mint one. The server checks the token
 * again (it arrives in the PROXY v2 header) and alone knows revocations and quotas.
 */
import { readFile } from 'node:fs/promises';
import {
  base64UrlToBytes,
  InviteError,
  importInvitePublicKey,
  type OfferedInvite,
  readInviteUnverified,
  verifyInvite,
} from '../lib/invite';
import type { AccessMode } from '../lib/invite/access';
import { CloseCode } from '../lib/protocol';
import { BridgeError } from './errors';

/** What the gate decided; `inviteId` is what may be logged (never the token). */
export type InviteVerdict =
  | { ok: true; token?: string; inviteId?: string }
  | { ok: false; code: CloseCode; inviteId?: string };

/** Reads invite.pub (one line: the 32-byte raw key in base64url). Throws BRIDGE_ERR_INVITE_KEY. */
export async function loadInvitePublicKey(file: string): Promise<CryptoKey> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new BridgeError(
      'BRIDGE_ERR_INVITE_KEY',
      `The bridge cannot read its --invite-key file ${file} (${code}); give it the file server's invite.pub from the server's data folder (the server writes it at its first start).`,
      { cause: e },
    );
  }
  try {
    return await importInvitePublicKey(base64UrlToBytes(text.trim(), 'public key'));
  } catch (e) {
    throw new BridgeError(
      'BRIDGE_ERR_INVITE_KEY',
      `The --invite-key file ${file} does not hold an invite public key (one line, 32 bytes in base64url, as the server writes invite.pub).`,
      { cause: e },
    );
  }
}

const CLOSE_FOR: Record<string, CloseCode> = {
  INVITE_ERR_MALFORMED: CloseCode.InviteMalformed,
  INVITE_ERR_FORGED: CloseCode.InviteForged,
  INVITE_ERR_EXPIRED: CloseCode.InviteExpired,
  // A key that cannot verify this token: treat it as not this server's.
  INVITE_ERR_BAD_KEY: CloseCode.InviteForged,
};

/** The invite's ID as the token claims it, for the log only (undefined when unreadable). */
function claimedId(token: string): string | undefined {
  try {
    return readInviteUnverified(token).id;
  } catch {
    return undefined;
  }
}

export class InviteGate {
  readonly #access: AccessMode;
  readonly #key: CryptoKey | undefined;
  readonly #now: () => number;

  /** Without a key (open mode only) an offered token is checked for form and expiry; the server verifies it. */
  constructor(access: AccessMode, key: CryptoKey | undefined, now: () => number = Date.now) {
    if (access === 'invite' && key === undefined) {
      throw new BridgeError('BRIDGE_ERR_CONFIG', 'Invite mode needs the invite public key (--invite-key).');
    }
    this.#access = access;
    this.#key = key;
    this.#now = now;
  }

  get access(): AccessMode {
    return this.#access;
  }

  async check(offered: OfferedInvite): Promise<InviteVerdict> {
    if (offered.kind === 'none') {
      return this.#access === 'invite' ? { ok: false, code: CloseCode.InviteRequired } : { ok: true };
    }
    if (offered.kind === 'malformed') return { ok: false, code: CloseCode.InviteMalformed };
    const { token } = offered;
    const nowSeconds = Math.floor(this.#now() / 1000);
    try {
      if (this.#key) {
        const payload = await verifyInvite(token, this.#key, nowSeconds);
        return { ok: true, token, inviteId: payload.id };
      }
      const payload = readInviteUnverified(token);
      if (nowSeconds >= payload.exp)
        return { ok: false, code: CloseCode.InviteExpired, inviteId: payload.id };
      return { ok: true, token, inviteId: payload.id };
    } catch (e) {
      if (!(e instanceof InviteError)) throw e;
      return { ok: false, code: CLOSE_FOR[e.code] ?? CloseCode.InviteMalformed, inviteId: claimedId(token) };
    }
  }
}
