/**
 * Invites in tests (issue 15): the owner's commands run as processes against a data folder
 * (the server may be running), and connections that arrive as the bridge relays them: a
 * PROXY v2 header from a trusted address naming the real client, with the invite token in
 * TLV 0xE0.
 */
import { type InvitePayload, signInvite, tokenFromLink } from '../../lib/invite';
import { encodeProxyHeader, Pp2Type, tcpProxyHeader } from '../../platform/proxy-protocol';
import { type FrameConn, tcpConn } from './hostile';
import { runPart } from './processes';
import type { RawClient } from './server-helpers';

/** `npm run server -- <args> --data DIR --json`, its JSON lines parsed. */
export function ownerCommand(data: string, args: string[]): Record<string, unknown>[] {
  return runPart('server', [...args, '--data', data, '--json'])
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

export interface MadeInvite {
  id: string;
  link: string;
  token: string;
}

/** `invite create` with extra flags (`--max-bytes 100K` ...). */
export function makeInvite(data: string, args: string[] = []): MadeInvite {
  const [out] = ownerCommand(data, ['invite', 'create', ...args]);
  const link = String(out!.link);
  return { id: String(out!.id), link, token: tokenFromLink(link) };
}

export interface RelayOptions {
  /** The token to pass on (TLV 0xE0); none when undefined. */
  token?: string;
  /** The real client's address the header names (default 203.0.113.7, off loopback). */
  source?: string;
  /** The relay's own address (a trusted one by default: loopback). */
  localAddress?: string;
}

/** The PROXY v2 header the bridge writes for a client of `source`, with the token in TLV 0xE0. */
export function relayHeader(serverPort: number, o: RelayOptions = {}): Uint8Array {
  const tlvs =
    o.token === undefined ? [] : [{ type: Pp2Type.SFT_INVITE, value: new TextEncoder().encode(o.token) }];
  return encodeProxyHeader(
    tcpProxyHeader(
      { address: o.source ?? '203.0.113.7', port: 40_000 },
      { address: '127.0.0.1', port: serverPort },
      tlvs,
    ),
    { maxLength: 4096 },
  );
}

/** A connection as the bridge opens it: header first, then frames. */
export async function relayedConn(
  serverPort: number,
  o: RelayOptions = {},
): Promise<FrameConn & { raw: RawClient }> {
  const c = await tcpConn(serverPort, o.localAddress);
  await c.raw.send(relayHeader(serverPort, o));
  return c;
}

/** A token with the right form signed by another key: what a forger can make. */
export async function forgedToken(payload: Partial<InvitePayload> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const pair = (await crypto.subtle.generateKey({ name: 'Ed25519' }, true, [
    'sign',
    'verify',
  ])) as CryptoKeyPair;
  return signInvite(
    {
      v: 1,
      id: '0123456789abcdef',
      label: 'forged',
      iat: now,
      exp: now + 3600,
      maxBytes: null,
      maxFiles: null,
      maxClients: 1000,
      ...payload,
    },
    pair.privateKey,
  );
}
