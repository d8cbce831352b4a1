/**
 * The page's protocol v4 decisions as pure functions (unit-tested without IndexedDB): which
 * version to speak (`?protocol=3|4|auto`), the address a server key is pinned under, the pin
 * check (and an invite link's `server=` fingerprint against it), and the list of unfinished
 * uploads kept for resuming.
 */

import { replaceUnsafe } from '../lib/protocol/name-chars';

export type ProtocolChoice = 3 | 4 | 'auto';

/** `?protocol=3|4|auto` of the page's address (the bench and tests force a version with it); default auto. */
export function protocolChoice(search: string): ProtocolChoice {
  const v = new URLSearchParams(search).get('protocol');
  if (v === '3') return 3;
  if (v === '4') return 4;
  return 'auto';
}

/**
 * Whether to try protocol v4 first: forced by `?protocol=4`, or auto unless this bridge's
 * server answered as a version 3 server. An invite changes nothing: the v4 key is the
 * identity then, registered by ClientAuth, so it takes the invite's one client slot alone.
 */
export function wantsV4(protocol: ProtocolChoice, answeredV3: boolean): boolean {
  return protocol === 4 || (protocol === 'auto' && !answeredV3);
}

/**
 * Whether a v3 identity (registered by v3 or imported from me.info) sends its files by v4,
 * under a v4 key of its own: as wantsV4, except under an invite, where its v3 registration
 * took the invite's client slot (one by default) and the v4 key would need another.
 */
export function v3IdentityWantsV4(protocol: ProtocolChoice, answeredV3: boolean, invited: boolean): boolean {
  return wantsV4(protocol, answeredV3) && !(invited && protocol === 'auto');
}

/** The bridge's `host:port` (the default port written out), the key a server's pin is kept under. */
export function pinAddress(bridgeUrl: string): string {
  const u = new URL(bridgeUrl);
  const port = u.port || (u.protocol === 'wss:' || u.protocol === 'https:' ? '443' : '80');
  return `${u.hostname}:${port}`;
}

/** address -> fingerprint (`SHA256:...`) of the server key seen first there. */
export type Pins = Readonly<Record<string, string>>;

export type PinCheck =
  | { kind: 'known' }
  | { kind: 'pinned'; pins: Pins }
  | { kind: 'changed'; pinned: string; offered: string };

/** Trust on first use: an unknown address is pinned, the pinned key passes, another is refused. */
export function checkPin(pins: Pins, address: string, offered: string): PinCheck {
  const pinned = pins[address];
  if (pinned === offered) return { kind: 'known' };
  if (pinned !== undefined) return { kind: 'changed', pinned, offered };
  return { kind: 'pinned', pins: { ...pins, [address]: offered } };
}

/**
 * An invite link's `server=` fingerprint against the pins, before connecting: nothing to do
 * without one; pinned for the address when it has no pin yet (so the first connection checks
 * the server against the link, not trust on first use); `different` when the address has
 * another pin (said to the person, never overwritten silently).
 */
export type LinkPinDecision =
  | { kind: 'none' }
  | { kind: 'pin'; pins: Pins }
  | { kind: 'same' }
  | { kind: 'different'; pinned: string };

export function linkPinDecision(pins: Pins, address: string, link: string | undefined): LinkPinDecision {
  if (link === undefined) return { kind: 'none' };
  const pinned = pins[address];
  if (pinned === undefined) return { kind: 'pin', pins: { ...pins, [address]: link } };
  return pinned === link ? { kind: 'same' } : { kind: 'different', pinned };
}

export function withoutPin(pins: Pins, address: string): Pins {
  const { [address]: _gone, ...rest } = pins;
  return rest;
}

/** What identifies a chosen file across reloads (a File has no path). */
export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

/** An unfinished v4 upload: what a resume needs, kept from the server's UploadReady on. */
export interface KeptUpload extends FileIdentity {
  /** pinAddress() of the bridge it goes through. */
  server: string;
  uploadId: Uint8Array;
  fileKey: Uint8Array;
}

const sameFile = (k: KeptUpload, server: string, f: FileIdentity) =>
  k.server === server && k.name === f.name && k.size === f.size && k.lastModified === f.lastModified;

export function findKept(
  list: readonly KeptUpload[],
  server: string,
  f: FileIdentity,
): KeptUpload | undefined {
  return list.find((k) => sameFile(k, server, f));
}

/** Keeps `u`, replacing an earlier upload of the same file; at most `max` entries (oldest dropped). */
export function withKept(list: readonly KeptUpload[], u: KeptUpload, max = 100): KeptUpload[] {
  const rest = list.filter((k) => !sameFile(k, u.server, u));
  rest.push(u);
  return rest.slice(-max);
}

export function withoutKept(list: readonly KeptUpload[], server: string, f: FileIdentity): KeptUpload[] {
  return list.filter((k) => !sameFile(k, server, f));
}

export function isKeptUpload(v: unknown): v is KeptUpload {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    typeof o.server === 'string' &&
    typeof o.name === 'string' &&
    typeof o.size === 'number' &&
    typeof o.lastModified === 'number' &&
    o.uploadId instanceof Uint8Array &&
    o.uploadId.length === 16 &&
    o.fileKey instanceof Uint8Array &&
    o.fileKey.length === 32
  );
}

/** Longest file name protocol v4 carries, in UTF-8 bytes. */
export const V4_MAX_NAME_BYTES = 255;

/**
 * The name a file travels under in protocol v4: UTF-8 as chosen, except the characters the
 * name rules refuse (controls, bidi formatting characters, separators: lib/protocol/name-chars.ts),
 * `/` and `\` (each becomes `_`), `.`/`..`/empty (`file`), and more than 255 bytes (shortened
 * on a character boundary, keeping a short extension).
 */
export function v4FileName(name: string): string {
  let out = replaceUnsafe(name, '_').replace(/[/\\]/g, '_');
  if (out.trim() === '' || out === '.' || out === '..') out = 'file';
  const bytes = (s: string) => new TextEncoder().encode(s).length;
  if (bytes(out) <= V4_MAX_NAME_BYTES) return out;
  const dot = out.lastIndexOf('.');
  const ext = dot > 0 && out.length - dot <= 16 ? out.slice(dot) : '';
  const chars = [...out.slice(0, out.length - ext.length)];
  while (chars.length > 0 && bytes(chars.join('') + ext) > V4_MAX_NAME_BYTES) chars.pop();
  return chars.join('') + ext;
}
