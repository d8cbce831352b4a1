/**
 * Invite tokens: what an invite link carries. The server signs them with its invite key
 * (Ed25519, WebCrypto); the bridge and the server verify them with the public half, so the
 * bridge can check a link at the WebSocket handshake but holds nothing that could mint one.
 * The limits and the label are in the signed payload so the page can show them before it
 * connects; the server's database stays the authority on revocation and on what is used.
 *
 * Wire form (ASCII, URL-safe, at most MAX_TOKEN_LENGTH characters):
 *
 *   sfi1.<payload>.<signature>
 *
 *   payload    base64url (no padding) of the UTF-8 JSON object InvitePayload
 *   signature  base64url (no padding) of the 64-byte Ed25519 signature over the ASCII bytes
 *              of "sfi1." + payload (the text as sent: nothing is re-serialised before verifying)
 */
import { base64ToBytes, bytesToBase64 } from '../crypto/encoding';
import { InviteError } from './errors';

export const TOKEN_PREFIX = 'sfi1.';
/** Far above a real token (about 400 characters with a 100-character label): bounds parsing work. */
export const MAX_TOKEN_LENGTH = 2048;
export const MAX_LABEL_LENGTH = 100;
/** Invite IDs: 16 lowercase hex digits (8 random bytes). Not secret; the signature is. */
export const INVITE_ID_PATTERN = /^[0-9a-f]{16}$/;
const SIGNATURE_BYTES = 64;
const ED25519 = { name: 'Ed25519' } as const;

export interface InvitePayload {
  /** Format version of the payload. */
  v: 1;
  /** The invite's ID, as in `invite list` and `invite revoke ID`. */
  id: string;
  /** Who invited, as the owner wrote it (shown on the page: "from Dana"). May be empty. */
  label: string;
  /** Issued at, Unix seconds. */
  iat: number;
  /** Expires at, Unix seconds. */
  exp: number;
  /** Limits the owner set, null for none beyond the server's global ones. */
  maxBytes: number | null;
  maxFiles: number | null;
  maxClients: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

function toBase64Url(bytes: Uint8Array): string {
  return bytesToBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

function fromBase64Url(text: string, what: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw malformed(`${what} is not base64url`);
  try {
    return base64ToBytes(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch (e) {
    throw new InviteError('INVITE_ERR_MALFORMED', `The invite's ${what} is not base64url.`, { cause: e });
  }
}

function malformed(why: string): InviteError {
  return new InviteError('INVITE_ERR_MALFORMED', `This is not a valid invite: ${why}.`);
}

function isLimit(v: unknown): v is number | null {
  return v === null || (Number.isSafeInteger(v) && (v as number) >= 0);
}

/** Checks the shape of a decoded payload; throws INVITE_ERR_MALFORMED naming the first bad field. */
function checkPayload(p: unknown): InvitePayload {
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    throw malformed('the payload is not an object');
  const o = p as Record<string, unknown>;
  if (o.v !== 1) throw malformed('unknown version');
  if (typeof o.id !== 'string' || !INVITE_ID_PATTERN.test(o.id)) throw malformed('bad id');
  if (typeof o.label !== 'string' || o.label.length > MAX_LABEL_LENGTH) throw malformed('bad label');
  if (!Number.isSafeInteger(o.iat) || (o.iat as number) < 0) throw malformed('bad issue time');
  if (!Number.isSafeInteger(o.exp) || (o.exp as number) < (o.iat as number)) throw malformed('bad expiry');
  if (!isLimit(o.maxBytes) || !isLimit(o.maxFiles)) throw malformed('bad limits');
  if (!Number.isSafeInteger(o.maxClients) || (o.maxClients as number) < 1)
    throw malformed('bad client limit');
  return {
    v: 1,
    id: o.id,
    label: o.label,
    iat: o.iat as number,
    exp: o.exp as number,
    maxBytes: o.maxBytes,
    maxFiles: o.maxFiles,
    maxClients: o.maxClients as number,
  };
}

interface SplitToken {
  signed: string;
  payload: InvitePayload;
  signature: Uint8Array;
}

function split(token: string): SplitToken {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw malformed('too long');
  if (!token.startsWith(TOKEN_PREFIX)) throw malformed('it does not start with sfi1.');
  const parts = token.slice(TOKEN_PREFIX.length).split('.');
  if (parts.length !== 2) throw malformed('it does not have two parts');
  const [body, sig] = parts as [string, string];
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(fromBase64Url(body, 'payload')));
  } catch (e) {
    if (e instanceof InviteError) throw e;
    throw malformed('the payload is not JSON');
  }
  const signature = fromBase64Url(sig, 'signature');
  if (signature.length !== SIGNATURE_BYTES) throw malformed('the signature has the wrong length');
  return { signed: TOKEN_PREFIX + body, payload: checkPayload(json), signature };
}

/**
 * Reads a token's payload WITHOUT checking its signature: for showing the limits on the page
 * before connecting. Never use the result to decide anything; `verifyInvite` does that.
 */
export function readInviteUnverified(token: string): InvitePayload {
  return split(token).payload;
}

/** Signs a payload with the server's invite private key (Ed25519 CryptoKey, usage "sign"). */
export async function signInvite(payload: InvitePayload, privateKey: CryptoKey): Promise<string> {
  const checked = checkPayload(payload);
  const body = toBase64Url(encoder.encode(JSON.stringify(checked)));
  const signed = TOKEN_PREFIX + body;
  let sig: ArrayBuffer;
  try {
    sig = await crypto.subtle.sign(ED25519, privateKey, encoder.encode(signed));
  } catch (e) {
    throw new InviteError('INVITE_ERR_BAD_KEY', 'The invite signing key cannot sign.', { cause: e });
  }
  const token = `${signed}.${toBase64Url(new Uint8Array(sig))}`;
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('too long');
  return token;
}

/**
 * Verifies a token: its form, its signature under `publicKey` (Ed25519, usage "verify"), and
 * that it has not expired at `nowSeconds`. Returns the payload; throws InviteError otherwise.
 * Revocation and usage are the server's to check against its database.
 */
export async function verifyInvite(
  token: string,
  publicKey: CryptoKey,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): Promise<InvitePayload> {
  const { signed, payload, signature } = split(token);
  let ok: boolean;
  try {
    ok = await crypto.subtle.verify(
      ED25519,
      publicKey,
      signature as Uint8Array<ArrayBuffer>,
      encoder.encode(signed),
    );
  } catch (e) {
    throw new InviteError('INVITE_ERR_BAD_KEY', 'The invite verification key cannot verify.', { cause: e });
  }
  if (!ok) throw new InviteError('INVITE_ERR_FORGED', 'This invite was not made by this server.');
  if (nowSeconds >= payload.exp) {
    throw new InviteError(
      'INVITE_ERR_EXPIRED',
      `This invite expired at ${new Date(payload.exp * 1000).toISOString()}.`,
    );
  }
  return payload;
}

/** Generates an invite key pair (extractable, so the server can store it in its data folder). */
export async function generateInviteKeyPair(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** Imports the 32-byte raw public key (as stored in invite.pub, base64url). */
export async function importInvitePublicKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== 32) throw new InviteError('INVITE_ERR_BAD_KEY', 'An invite public key is 32 bytes.');
  try {
    return await crypto.subtle.importKey('raw', raw as Uint8Array<ArrayBuffer>, ED25519, true, ['verify']);
  } catch (e) {
    throw new InviteError('INVITE_ERR_BAD_KEY', 'Not an Ed25519 public key.', { cause: e });
  }
}

/** Imports a PKCS #8 Ed25519 private key (as stored in invite.key). */
export async function importInvitePrivateKey(pkcs8: Uint8Array): Promise<CryptoKey> {
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8 as Uint8Array<ArrayBuffer>, ED25519, true, ['sign']);
  } catch (e) {
    throw new InviteError('INVITE_ERR_BAD_KEY', 'Not an Ed25519 private key.', { cause: e });
  }
}

export { fromBase64Url as base64UrlToBytes, toBase64Url as bytesToBase64Url };
