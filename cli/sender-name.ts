/**
 * The name a run sends as: --name, else the name an identity in the folder keeps (me.info
 * for protocol 3, v4.name beside v4.key for 4), else line 2 of transfer.info. A folder holds
 * one sender, whatever the protocol: a --name other than a kept one is a configuration error
 * naming the file (exit 2), as the server knows the identity by that name.
 */
import path from 'node:path';
import { CliError } from './errors';
import { ME_INFO, TRANSFER_INFO } from './identity-store';
import { readV4Name, V4_NAME_FILE } from './v4-store';

export async function senderName(
  dir: string,
  given: string | undefined,
  v3Name: string | undefined,
  infoName: string | undefined,
): Promise<string> {
  const v4Name = (await readV4Name(dir)) ?? undefined;
  const kept = [
    { name: v3Name, file: path.join(dir, ME_INFO), what: 'the identity of' },
    { name: v4Name, file: path.join(dir, V4_NAME_FILE), what: 'the protocol 4 identity (v4.key) of' },
  ].filter((k): k is { name: string; file: string; what: string } => k.name !== undefined);
  if (v3Name !== undefined && v4Name !== undefined && v3Name !== v4Name) {
    throw new CliError(
      'CLI_ERR_CONFIG',
      `${kept[0]!.file} is "${v3Name}" but ${kept[1]!.file} is "${v4Name}": one folder holds one sender. ` +
        `Put "${v3Name}" in ${kept[1]!.file} (or move the protocol 4 files to another folder).`,
    );
  }
  const name = given ?? kept[0]?.name ?? infoName;
  if (!name) {
    throw new CliError(
      'CLI_ERR_CONFIG',
      `No client name given: pass --name NAME, or put it on line 2 of ${path.join(dir, TRANSFER_INFO)}.`,
    );
  }
  for (const k of kept) {
    if (k.name !== name) {
      throw new CliError(
        'CLI_ERR_CONFIG',
        `${k.file} holds ${k.what} "${k.name}", not "${name}". ` +
          `Use another --dir for "${name}", or drop --name to send as "${k.name}".`,
      );
    }
  }
  return name;
}
