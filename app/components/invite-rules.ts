/**
 * The page's view of an invite: the token from a link or a paste, its limits in words, what
 * this browser has sent under it, and when a refusal is most likely its limit. The page reads
 * the token unverified (for display only); the bridge and the server verify it.
 */
import type { UploadRecord } from '@/browser/history-store';
import { formatByteLimit } from '@/lib/format';
import {
  type AccessMode,
  fingerprintFromLink,
  type InvitePayload,
  readInviteUnverified,
  tokenFromLink,
} from '@/lib/invite';
import { CLOSE_REASONS, CloseCode } from '@/lib/protocol';
import { replaceUnsafe } from '@/lib/protocol/name-chars';
import { formatBytes } from './format';

export interface InviteInUse {
  token: string;
  payload: InvitePayload;
  /** The link's `server=` fingerprint of the server's v4 key (checked at the first v4 connection). */
  server?: string;
}

/** What this browser has sent (and the server verified) under one invite. */
export interface InviteSent {
  files: number;
  bytes: number;
}

export const NEED_INVITE = CLOSE_REASONS[CloseCode.InviteRequired];
export const DAMAGED_INVITE = CLOSE_REASONS[CloseCode.InviteMalformed];
export const EXPIRED_INVITE = CLOSE_REASONS[CloseCode.InviteExpired];

/**
 * The invite in a link, a fragment or a bare token, with the link's server fingerprint (or
 * `server`, the one kept with a stored token); a sentence when there is none or it is damaged.
 */
export function readInvite(text: string, server?: string): InviteInUse | { error: string } {
  let token: string;
  let payload: InvitePayload;
  try {
    token = tokenFromLink(text);
    payload = readInviteUnverified(token);
  } catch {
    return { error: DAMAGED_INVITE };
  }
  let fp: string | undefined;
  try {
    fp = fingerprintFromLink(text) ?? server;
  } catch (e) {
    // A damaged fingerprint must not quietly become trust on first use.
    return { error: e instanceof Error ? e.message : DAMAGED_INVITE };
  }
  return fp === undefined ? { token, payload } : { token, payload, server: fp };
}

/** The invite in `text` if it can be used now: not damaged, not expired (else the sentence why). */
export function usableInvite(text: string, nowMs: number): InviteInUse | { error: string } {
  const found = readInvite(text);
  if ('error' in found) return found;
  return isExpired(found.payload, nowMs) ? { error: EXPIRED_INVITE } : found;
}

/**
 * The token to offer at the handshake, or why nothing may be sent (said before connecting):
 * in invite mode, no invite or an expired one. In open mode an expired invite is not offered.
 */
export function inviteToOffer(
  access: AccessMode,
  invite: InviteInUse | null,
  nowMs: number,
): { token?: string } | { refused: string } {
  const expired = !!invite && isExpired(invite.payload, nowMs);
  if (access === 'invite' && (!invite || expired)) return { refused: expired ? EXPIRED_INVITE : NEED_INVITE };
  return { token: expired ? undefined : invite?.token };
}

/** True once the invite's expiry time (Unix seconds) has passed at `nowMs`. */
export function isExpired(payload: InvitePayload, nowMs: number): boolean {
  return payload.exp * 1000 <= nowMs;
}

/** "Dec 8", with the year when it is not this year's, or the time when it is within a day. */
export function formatUntil(expSeconds: number, nowMs: number): string {
  const at = new Date(expSeconds * 1000);
  const now = new Date(nowMs);
  if (at.getTime() - nowMs < 24 * 3600 * 1000 && at.getTime() > nowMs)
    return at.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit' });
  return at.toLocaleDateString('en-US', {
    month: 'short',
    day: 'numeric',
    ...(at.getFullYear() === now.getFullYear() ? {} : { year: 'numeric' }),
  });
}

/** "from Dana: up to 10 GiB and 100 files, until Dec 8" (the owner's label and limits). */
export function limitsSentence(payload: InvitePayload, nowMs: number): string {
  const limits: string[] = [];
  if (payload.maxBytes !== null) limits.push(formatByteLimit(payload.maxBytes));
  if (payload.maxFiles !== null)
    limits.push(`${payload.maxFiles} ${payload.maxFiles === 1 ? 'file' : 'files'}`);
  // The page reads the token unverified: whoever made the link chose the label. Bidi and
  // control characters become `_`, as in file names, so none can reorder the sentence
  // ("from Dana\u202E" would run the limits that follow right to left).
  const label = replaceUnsafe(payload.label, '_').trim();
  const who = label ? `from ${label}` : 'from the owner of this server';
  const what = limits.length > 0 ? `up to ${limits.join(' and ')}` : 'no limit beyond the server’s own';
  const when = isExpired(payload, nowMs) ? 'expired' : 'until';
  return `${who}: ${what}, ${when} ${formatUntil(payload.exp, nowMs)}`;
}

/** The verified uploads recorded under invite `id`, over every identity of this browser. */
export function sentUnder(records: readonly UploadRecord[], id: string | undefined): InviteSent {
  const sent = { files: 0, bytes: 0 };
  if (!id) return sent;
  for (const r of records) {
    if (r.inviteId !== id || r.outcome !== 'verified') continue;
    sent.files++;
    sent.bytes += r.size;
  }
  return sent;
}

/** "2 files, 1.5 MiB" (what this browser sent under the invite). */
export function sentSentence(sent: InviteSent): string {
  return `${sent.files} ${sent.files === 1 ? 'file' : 'files'}, ${formatBytes(sent.bytes)}`;
}

/**
 * A 1607 on the first attempt at a file sent under an invite: v3 has no "over quota" code, and
 * the server checks the invite's limits at the start of a file, so that is the likely cause.
 */
export function overInviteLikely(
  invite: InviteInUse | null,
  done: { outcome: string; code?: string; attempts: number; v4Code?: number },
): boolean {
  if (!invite || done.outcome !== 'failed') return false;
  // Protocol v4 says it outright (Error 6, OVER_QUOTA); v3 only answers 1607 at the start.
  if (done.v4Code !== undefined) return done.v4Code === 6;
  return done.code === 'CLIENT_ERR_SERVER_ERROR' && done.attempts <= 1;
}
