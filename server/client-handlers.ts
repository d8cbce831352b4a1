/**
 * 1025 register, 1026 public key, 1027 reconnect: who a client is and the AES key its
 * connection gets. Each takes its request and returns an Outcome; a thrown ServerError becomes
 * 1607 (handlers.ts). The key and name a connection is given go into its Session.
 *
 * Client ID rules (the header's ID is what identifies a registered client):
 * - 1025 ignores the header's ID (clients send zeros) and answers with a fresh random ID.
 * - 1026 needs a registered header ID whose name equals the payload's name, so nobody can
 *   replace another client's public key by naming it: otherwise 1607.
 * - 1027 needs the name to be registered with a public key on file AND the header's ID to be
 *   that client's ID: otherwise 1606. (The reference protocol reconnects by name alone; also
 *   checking the ID means knowing a name is not enough to make the server mint keys for it.
 *   Clients that follow the protocol always send their ID.)
 */
import { constants, createPublicKey, publicEncrypt, randomBytes, randomUUID } from 'node:crypto';
import { validatePublicKeySpki } from '../lib/crypto';
import {
  AES_KEY_SIZE,
  clientIdEquals,
  clientIdToHex,
  MAX_CLIENT_NAME_LENGTH,
  type ReconnectRequest,
  type RegisterRequest,
  ResponseCode,
  RSA_MODULUS_BITS,
  type SendPublicKeyRequest,
} from '../lib/protocol';
import { ServerError } from './errors';
import type { HandlerContext } from './handler-context';
import { RefusedError } from './invite-gate';
import type { Outcome } from './outcome';

function uuidBytes(): Uint8Array {
  return Uint8Array.from(Buffer.from(randomUUID().replaceAll('-', ''), 'hex'));
}

/** RSA-OAEP (SHA-1, MGF1-SHA-1) of `aesKey` with the client's DER SubjectPublicKeyInfo, synchronously with Node's crypto (lib/crypto's wrapAesKey is the async WebCrypto one). */
export function encryptAesKeyForClient(publicKeyField: Uint8Array, aesKey: Uint8Array): Buffer {
  let derLength: number;
  try {
    const info = validatePublicKeySpki(publicKeyField);
    if (info.modulusBits !== RSA_MODULUS_BITS) throw new Error(`a ${info.modulusBits}-bit key`);
    derLength = info.derLength;
  } catch (e) {
    throw new ServerError(
      'SERVER_ERR_BAD_PUBLIC_KEY',
      `The public key is not a usable RSA-1024 key: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const key = createPublicKey({
    key: Buffer.from(publicKeyField.subarray(0, derLength)),
    format: 'der',
    type: 'spki',
  });
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, aesKey);
}

/**
 * A name registered (1025) without a public key following (1026) for this long may be
 * registered again by anyone; the 1025 -> 1026 gap of a live client is well under a second.
 */
export const KEYLESS_NAME_RECLAIM_MS = 60_000;

/**
 * 1025: a new client. Duplicate or over-long names get 1601 (malformed ones never get here),
 * and so does a registration the invite rules refuse (invite-gate.ts; a RefusedError becomes
 * 1601 with its reason in handlers.ts). With an invite the client is bound to it.
 */
export async function register(
  req: RegisterRequest,
  { db, now, session, limits, maxClients, invites }: HandlerContext,
): Promise<Outcome> {
  const refused = (error: string): Outcome => ({ response: { code: ResponseCode.RegisterFailed }, error });
  if (req.name.length > MAX_CLIENT_NAME_LENGTH) return refused('NAME_TOO_LONG');
  // Rows are permanent: a stranger must not be able to add them as fast as we answer.
  if (!limits.takeRegistration(session.source)) return refused('REGISTER_RATE_LIMITED');
  if ((await db.clientCount()) >= maxClients) return refused('MAX_CLIENTS');
  const slot = await invites.forRegistration(session.invite, Date.parse(now), (inviteId) => {
    session.inviteId = inviteId;
  });
  const id = uuidBytes();
  if (!(await db.insertClient(id, req.name, now, slot, maxClients))) {
    const holder = await db.clientByName(req.name);
    // The cap was reached by other 1025s meanwhile (the count above was read before the
    // invite's check; the insert counts again).
    if (!holder && (await db.clientCount()) >= maxClients) return refused('MAX_CLIENTS');
    // The name is free, so the invite's last slot went to another 1025 meanwhile.
    if (!holder && slot) throw new RefusedError('invite-full', `Invite ${slot.id} has no free client slot.`);
    const keylessFor =
      holder && !holder.PublicKey ? Date.parse(now) - (holder.LastSeen ? Date.parse(holder.LastSeen) : 0) : 0;
    // A name whose client vanished between 1025 and 1026 would otherwise be lost for good.
    const reclaimed =
      keylessFor >= KEYLESS_NAME_RECLAIM_MS &&
      (await db.reclaimKeylessName(holder!.ID, id, req.name, now, slot));
    if (!reclaimed) return refused('NAME_TAKEN');
  }
  return { response: { code: ResponseCode.Registered, clientId: id }, name: req.name };
}

/**
 * 1026: stores the public key and answers with a new AES key wrapped in it. A 1026 for a
 * client with a key on file is a 1027 by another name: the key it sends again travelled in
 * the clear in the registration's 1026, and the answer is a fresh key wrapped for the owner,
 * one padding-oracle query. So it costs the source what a 1027 costs (peer-limits.ts) and is
 * refused for a client of a revoked or expired invite as a 1027 is; our clients and the
 * reference client send 1026 only right after 1025, before any key is on file.
 */
export async function sendPublicKey(
  req: SendPublicKeyRequest,
  { db, session, now, limits, invites }: HandlerContext,
): Promise<Outcome> {
  const client = await db.clientById(req.clientId);
  if (!client) {
    throw new ServerError(
      'SERVER_ERR_UNKNOWN_CLIENT',
      'The client ID in the header is not registered; register first (1025).',
    );
  }
  if (client.Name !== req.name) {
    throw new ServerError(
      'SERVER_ERR_CLIENT_MISMATCH',
      'The name does not belong to the client ID in the header.',
    );
  }
  if (client.PublicKey) {
    // Charged whether or not the key matches, as every 1027 is: both answers are 1607 then.
    if (!limits.takeReconnect(session.source, clientIdToHex(req.clientId))) {
      return { response: { code: ResponseCode.ServerError }, error: 'RECONNECT_RATE_LIMITED' };
    }
    // A client of a revoked or expired invite gets no key from a 1027; nor from this (1607).
    session.inviteId = client.InviteID ?? undefined;
    await invites.checkBound(client.InviteID, Date.parse(now));
  }
  // The client ID and name travel in the clear, so they prove nothing: a key on file is never
  // replaced, or anyone who saw them could take the account over. Re-sending the same key is fine.
  if (client.PublicKey && !Buffer.from(client.PublicKey).equals(Buffer.from(req.publicKey))) {
    throw new ServerError(
      'SERVER_ERR_KEY_ON_FILE',
      'This client already has a public key on file; reconnect (1027) with its private key, or register a new name.',
    );
  }
  const aesKey = randomBytes(AES_KEY_SIZE);
  const wrapped = encryptAesKeyForClient(req.publicKey, aesKey);
  await db.setKeys(req.clientId, req.publicKey, aesKey, now);
  session.key = { aesKey, clientId: Uint8Array.from(client.ID) };
  session.name = client.Name;
  session.inviteId = client.InviteID ?? undefined;
  return { response: { code: ResponseCode.PublicKeyAccepted, clientId: client.ID, encryptedKey: wrapped } };
}

/**
 * 1027: a known client with a key on file gets a new AES key (1605); anyone else 1606. A
 * client bound to an invite that is revoked or expired gets 1607 (a RefusedError): not 1606,
 * which tells a client its identity is unknown and makes it register again; the identity is
 * still valid, only new uploads are not.
 */
export async function reconnect(
  req: ReconnectRequest,
  { db, session, now, limits, invites }: HandlerContext,
): Promise<Outcome> {
  // Every 1027 counts, accepted or not: each fresh key is one padding-oracle query (peer-limits.ts).
  if (!limits.takeReconnect(session.source, clientIdToHex(req.clientId))) {
    session.name = req.name;
    return {
      response: { code: ResponseCode.ServerError },
      error: 'RECONNECT_RATE_LIMITED',
    };
  }
  const rejected = (error: string): Outcome => {
    session.name = req.name; // logged from now on, even when refused
    return { response: { code: ResponseCode.ReconnectRejected, clientId: req.clientId }, error };
  };
  const client = await db.clientByName(req.name);
  if (!client) return rejected('UNKNOWN_NAME');
  if (!clientIdEquals(client.ID, req.clientId)) return rejected('CLIENT_ID_MISMATCH');
  if (!client.PublicKey) return rejected('NO_PUBLIC_KEY');
  session.name = client.Name;
  session.inviteId = client.InviteID ?? undefined;
  await invites.checkBound(client.InviteID, Date.parse(now));
  const aesKey = randomBytes(AES_KEY_SIZE);
  let wrapped: Buffer;
  try {
    wrapped = encryptAesKeyForClient(client.PublicKey, aesKey);
  } catch {
    return rejected('BAD_STORED_KEY');
  }
  await db.setKeys(client.ID, null, aesKey, now);
  session.key = { aesKey, clientId: Uint8Array.from(client.ID) };
  session.name = client.Name;
  return { response: { code: ResponseCode.Reconnected, clientId: client.ID, encryptedKey: wrapped } };
}
