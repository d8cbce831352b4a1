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
