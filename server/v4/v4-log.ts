/**
 * The sentences a person reads in protocol v4's log lines, like v3's outcome-message.ts
 * ("alice sent report.pdf, 2.1 MiB, verified (protocol 4, SHA-256 1a2b3c4d…)"); the JSON
 * fields beside them stay as they are for machines.
 *
 * `who` and `file` are names a sender chose: each sentence shows them with their control,
 * bidi formatting and separator characters escaped (`\u{202E}`, lib/protocol/name-chars.ts),
 * whatever let them through (the name rules refuse them; a refused name is logged too).
 */
import { formatBytes } from '../../lib/format';
import { escapeUnsafe as shown } from '../../lib/protocol/name-chars';

/** The first 8 hex digits of a SHA-256, as people compare them. */
export const shortSha = (hex: string) => `${hex.slice(0, 8)}…`;

const resumed = (from: number) => (from > 0 ? `, resumed from record ${from}` : '');

export const v4Sentence = {
  authenticated: (who: string, registered: boolean, inviteId: string | null) =>
    `${shown(who)} connected with protocol 4${registered ? ' and registered its key' : ''}${
      inviteId ? ` (invite ${inviteId})` : ''
    }`,
  refused: (who: string, code: number, why: string) =>
    `${shown(who)} was refused at protocol 4 (Error ${code}, ${shown(why)})`,
  started: (who: string, file: string, size: number, from: number) =>
    from > 0
      ? `${shown(who)} resumed ${shown(file)}, ${formatBytes(size)}, from record ${from} (protocol 4)`
      : `${shown(who)} started ${shown(file)}, ${formatBytes(size)} (protocol 4)`,
  uploadRefused: (who: string, file: string, code: number, why: string) =>
    `${shown(who)}'s upload of ${shown(file)} was refused (protocol 4, Error ${code}, ${why})`,
  done: (who: string, file: string, size: number, sha256: string, from: number) =>
    `${shown(who)} sent ${shown(file)}, ${formatBytes(size)}, verified (protocol 4, SHA-256 ${shortSha(sha256)}${resumed(from)})`,
  doneAgain: (who: string, file: string) =>
    `${shown(who)} resumed ${shown(file)}, which was stored already: told so again (protocol 4)`,
  kept: (who: string, file: string, next: number, reason: string) =>
    `${shown(who)}'s upload of ${shown(file)} stopped at record ${next} (${reason}); kept for a resume (protocol 4)`,
  aborted: (who: string, file: string) =>
    `${shown(who)} gave up on ${shown(file)}; the unfinished upload was removed (protocol 4)`,
};
