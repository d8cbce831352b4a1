import { CLIENT_ID_SIZE } from './constants';
import { ProtocolError } from './errors';

/** The all-zero client ID a client sends before it has one (1025). */
export const EMPTY_CLIENT_ID: Uint8Array = new Uint8Array(CLIENT_ID_SIZE);

/** Client ID as 32 lowercase hex digits (the me.info form). */
export function clientIdToHex(id: Uint8Array): string {
  let out = '';
  for (const b of id) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Parses 32 hex digits into a 16-byte client ID. */
export function clientIdFromHex(hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) {
    throw new ProtocolError('PROTO_ERR_BAD_FIELD', 'A client ID must be 32 hexadecimal digits.');
  }
  const id = new Uint8Array(CLIENT_ID_SIZE);
  for (let i = 0; i < CLIENT_ID_SIZE; i++) id[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return id;
}

/** Constant-shape byte comparison of two IDs. */
export function clientIdEquals(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
