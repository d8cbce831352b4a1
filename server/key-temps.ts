/**
 * The data folder's key files (invite.key and invite.pub, server.key and server.pub) are
 * written as a temp file linked into place; a kill -9 between the two leaves the temp file,
 * for the private keys the key in the clear. Whoever is about to read or make those keys (the
 * server's start, `invite create`) removes the stale ones first: removeStaleTemps, so only
 * temp files of these names older than a minute (a younger one may be the other's write in
 * progress).
 */
import { removeStaleTemps } from '../platform/atomic-file';
import { INVITE_KEY_FILE, INVITE_PUB_FILE } from './invite-keys';
import { SERVER_KEY_FILES } from './v4/server-key';

export const KEY_FILES: readonly string[] = [INVITE_KEY_FILE, INVITE_PUB_FILE, ...SERVER_KEY_FILES];

/** The names of the stale key temp files removed from `dataDir` (best effort). */
export function removeStaleKeyTemps(dataDir: string): Promise<string[]> {
  return removeStaleTemps(dataDir, KEY_FILES);
}
