/**
 * Invite links for the e2e specs: made by the owner's command (`server invite create`) in an
 * invite-mode system's data folder, or signed here with its invite.key (an expired one, a
 * forged one) through lib/invite, as the server signs them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { base64ToBytes } from '../../lib/crypto/encoding';
import {
  generateInviteKeyPair,
  type InvitePayload,
  importInvitePrivateKey,
  inviteLink,
} from '../../lib/invite';
import { mintInvite } from '../../test/support/invites';
import { runPart } from '../../test/support/processes';
import type { System } from './system';

/**
 * `npm run server -- invite create ...` against the system's data folder; returns the link it
 * printed, without its `&server=` fingerprint unless `withServer` (the link as printed whole).
 */
export function createInvite(system: System, args: string[], opts: { withServer?: boolean } = {}): string {
  const out = runPart('server', [
    'invite',
    'create',
    '--data',
    system.dataDir,
    '--public-url',
    `${system.webUrl}/`,
    ...args,
  ]);
  const link = (
    opts.withServer
      ? /https?:\/\/\S+#invite=sfi1\.[\w.-]+&server=[\w%.-]+/
      : /https?:\/\/\S+#invite=sfi1\.[\w.-]+/
  ).exec(out)?.[0];
  if (!link) throw new Error(`invite create printed no link:\n${out}`);
  return link;
}

/** A link signed with the system's own invite key (or, `forged`, another key), valid a day unless `over` says otherwise. */
export async function signedInvite(
  system: System,
  over: Partial<InvitePayload>,
  opts: { forged?: boolean } = {},
): Promise<string> {
  const key = opts.forged
    ? (await generateInviteKeyPair()).privateKey
    : await importInvitePrivateKey(
        base64ToBytes(readFileSync(join(system.dataDir, 'invite.key'), 'utf8').trim()),
      );
  return inviteLink(`${system.webUrl}/`, await mintInvite(key, { label: 'Dana', ...over }));
}
