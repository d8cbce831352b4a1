/**
 * Invite links: the page's public URL with the token in the fragment,
 * `https://files.example.org/#invite=sfi1....`. A fragment never leaves the browser in a
 * request, so the token is in no Referer, no access log and no proxy log; the page reads it,
 * keeps it with the identity and removes it from the address bar.
 */
import { InviteError } from './errors';
import { MAX_TOKEN_LENGTH, TOKEN_PREFIX } from './token';

export const LINK_PARAM = 'invite';

/** The link for a token under the page's public URL (any path and query kept, fragment replaced). */
export function inviteLink(publicUrl: string, token: string): string {
  const url = new URL(publicUrl);
  url.hash = `${LINK_PARAM}=${token}`;
  return url.toString();
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
  const hash = trimmed.indexOf('#');
  if (hash >= 0) {
    const params = new URLSearchParams(trimmed.slice(hash + 1));
    const token = params.get(LINK_PARAM);
    if (token?.startsWith(TOKEN_PREFIX)) return token;
  }
  throw new InviteError(
    'INVITE_ERR_MALFORMED',
    'This is not an invite link: it has no #invite=sfi1... part.',
  );
}
