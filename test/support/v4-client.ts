/**
 * Test support for protocol v4: a client over real TCP (lib/client's V4ClientSession and the
 * CLI's TcpTransport), node:crypto SHA-256, files as V4Sources, and an in-memory pin.
 */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { basename } from 'node:path';
import { TcpTransport } from '../../cli/tcp-transport';
import type { Sha256, V4Source } from '../../lib/client/v4-session';
import { V4ClientSession } from '../../lib/client/v4-session';
import { V4Error } from '../../lib/v4/errors';
import { generateSigningKey, type KeyPairWithRaw } from '../../lib/v4/keys';
import { relayHeader } from './invite-helpers';

export function nodeSha256(): Sha256 {
  const h = createHash('sha256');
  return {
    update: (b) => h.update(b),
    digest: () => new Uint8Array(h.digest()),
  };
}

export function fileSource(path: string, name = basename(path)): V4Source {
  return {
    name,
    size: statSync(path).size,
    openAt: (offset) => createReadStream(path, { start: offset, highWaterMark: 1024 * 1024 }),
  };
}

/** `size` zero bytes, made as they are read (a large declared file without a file on disk). */
export function zeroSource(name: string, size: number): V4Source {
  return {
    name,
    size,
    async *openAt(offset) {
      for (let left = size - offset; left > 0; left -= 1024 * 1024)
        yield new Uint8Array(Math.min(1024 * 1024, left));
    },
  };
}

/** Pins the first key seen (or the given one) and refuses any other. */
export function memoryPin(pinned: Uint8Array | null = null): {
  check(k: Uint8Array): void;
  pinned(): Uint8Array | null;
} {
  let pin = pinned;
  return {
    check(k) {
      if (pin === null) pin = k;
      else if (!pin.every((b, i) => b === k[i]))
        throw new V4Error('V4_ERR_PINNED_KEY_CHANGED', 'The server key changed.');
    },
    pinned: () => pin,
  };
}

export async function newIdentity(): Promise<KeyPairWithRaw> {
  return generateSigningKey(false);
}

export async function connectV4(
  port: number,
  key: KeyPairWithRaw,
  check: (k: Uint8Array) => void = () => {},
  name = 'tester',
): Promise<V4ClientSession> {
  const t = await TcpTransport.connect('127.0.0.1', port);
  return V4ClientSession.open(t, { key, name, checkServerKey: check });
}

/** Options of a v4 connection in tests: the invite in ClientAuth, or arriving as the bridge relays it. */
export interface V4TestConnect {
  /** The token in ClientAuth's invite field. */
  invite?: string;
  /** Relayed: a PROXY v2 header first (from loopback, a trusted proxy), naming `source`, with `tlv` as TLV 0xE0. */
  relayed?: { tlv?: string; source?: string };
  name?: string;
}

/** A v4 session as a direct client or, with `relayed`, as the bridge would open it. */
export async function openV4(
  port: number,
  key: KeyPairWithRaw,
  o: V4TestConnect = {},
): Promise<V4ClientSession> {
  const t = await TcpTransport.connect('127.0.0.1', port);
  if (o.relayed) {
    await t.send([
      relayHeader(port, {
        ...(o.relayed.tlv !== undefined ? { token: o.relayed.tlv } : {}),
        ...(o.relayed.source !== undefined ? { source: o.relayed.source } : {}),
      }),
    ]);
  }
  return V4ClientSession.open(t, {
    key,
    name: o.name ?? 'tester',
    checkServerKey: () => {},
    ...(o.invite !== undefined ? { invite: o.invite } : {}),
  });
}

/** The wire code a refused open() or upload() carried (undefined when it did not fail so). */
export async function refusedCode(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { details?: { wireCode?: number } }).details?.wireCode;
  }
}
