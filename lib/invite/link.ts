/**
 * Invite links: the page's public URL with the token in the fragment,
 * `https://files.example.org/#invite=sfi1....`. A fragment never leaves the browser in a
 * request, so the token is in no Referer, no access log and no proxy log; the page reads it,
 * keeps it with the identity and removes it from the address bar. A link may also carry the
 * server's protocol v4 key fingerprint, `#invite=sfi1....&server=SHA256%3A...`, so the first
 * connection checks the server's key against it instead of trusting it on first use.
 */
import { InviteError } from './errors';
import { MAX_TOKEN_LENGTH, TOKEN_PREFIX } from './token';

export const LINK_PARAM = 'invite';
/** The fragment parameter with the server key's fingerprint. */
export const SERVER_PARAM = 'server';
/** A v4 server key fingerprint: `SHA256:` and the base64 (no padding) of SHA-256 of the key. */
export const FINGERPRINT_PATTERN = /^SHA256:[A-Za-z0-9+/]{43}$/;

/**
 * The link for a token under the page's public URL (any path and query kept, fragment
 * replaced), with the server key's fingerprint after the token when given.
 */
export function inviteLink(publicUrl: string, token: string, fingerprint?: string): string {
  const url = new URL(publicUrl);
  const server = fingerprint === undefined ? '' : `&${SERVER_PARAM}=${encodeURIComponent(fingerprint)}`;
  url.hash = `${LINK_PARAM}=${token}${server}`;
  return url.toString();
}

/** The fragment's parameters of a link, or null for a bare token or text without one. */
function fragmentParams(text: string): URLSearchParams | null {
  const hash = text.indexOf('#');
  return hash < 0 ? null : new URLSearchParams(text.slice(hash + 1));
}

/**
 * The server key fingerprint a link carries, or undefined when it carries none (or is a bare
 * token). A `server=` that is not a fingerprint throws INVITE_ERR_MALFORMED: a damaged one
 * must not quietly turn into trust on first use.
 */
export function fingerprintFromLink(text: string): string | undefined {
  const trimmed = text.trim();
  if (trimmed.startsWith(TOKEN_PREFIX)) return undefined;
  const value = fragmentParams(trimmed)?.get(SERVER_PARAM);
  if (value === null || value === undefined) return undefined;
  if (!FINGERPRINT_PATTERN.test(value)) {
    throw new InviteError(
      'INVITE_ERR_MALFORMED',
      "This invite link's server fingerprint is damaged; copy the whole link again.",
    );
  }
  return value;
}

/**
 * The token from what a person pasted: a whole link (token in the fragment) or the bare token.
 * Throws INVITE_ERR_MALFORMED when there is none; the token itself is checked by its readers.
 */
export function tokenFromLink(text: string): string {
  const trimmed = text.trim();
  if (trimmed.length > MAX_TOKEN_LENGTH + 2048) {
    throw new InviteError('INVITE_ERR_MALFORMED', 'This is not a valid invite: too long.');
  }
  if (trimmed.startsWith(TOKEN_PREFIX)) return trimmed;
  const token = fragmentParams(trimmed)?.get(LINK_PARAM);
  if (token?.startsWith(TOKEN_PREFIX)) return token;
  throw new InviteError(
    'INVITE_ERR_MALFORMED',
    'This is not an invite link: it has no #invite=sfi1... part.',
  );
}
