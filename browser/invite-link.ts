/**
 * The invite in the page's address: `#invite=sfi1....` (a fragment, so it was in no request).
 * Taken out of the address bar at once with history.replaceState, so it is not kept in
 * bookmarks, the history list or screenshots; the page keeps it in IndexedDB instead.
 */
import { LINK_PARAM } from '../lib/invite';

/** The fragment's text when it carries an invite (removed from the address bar), else undefined. */
export function takeInviteFromAddress(): string | undefined {
  const hash = window.location.hash;
  if (!new URLSearchParams(hash.slice(1)).has(LINK_PARAM)) return undefined;
  const { pathname, search } = window.location;
  window.history.replaceState(window.history.state, '', pathname + search);
  return hash;
}
