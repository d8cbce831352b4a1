/**
 * The reference client's files in the --dir folder: transfer.info (read), me.info and
 * priv.key (read, and written after a registration). Formats live in lib/crypto.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  CryptoError,
  formatMeInfo,
  formatPrivKey,
  type Identity,
  parseMeInfo,
  parseTransferInfo,
  type TransferInfo,
} from '../lib/crypto';
import { writeFileAtomically } from '../platform/atomic-file';
import { CliError } from './errors';

export const TRANSFER_INFO = 'transfer.info';
export const ME_INFO = 'me.info';
export const PRIV_KEY = 'priv.key';
/** The invite link (or bare token) a run was given, kept for the runs after it. */
export const INVITE_LINK = 'invite.link';
/** Where an identity a re-registration replaced is kept (one pair: the first replaced). */
export const ME_INFO_REPLACED = `${ME_INFO}.replaced`;
export const PRIV_KEY_REPLACED = `${PRIV_KEY}.replaced`;
/** The files this module writes (each atomically: a temp file beside it, renamed over it). */
export const IDENTITY_FILES_WRITTEN: readonly string[] = [
  ME_INFO,
  PRIV_KEY,
  INVITE_LINK,
  ME_INFO_REPLACED,
  PRIV_KEY_REPLACED,
];

/** Private key files are readable by their owner only. */
const PRIVATE_FILE_MODE = 0o600;
/** A folder the CLI creates for them is its owner's only. */
const PRIVATE_FOLDER_MODE = 0o700;

async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    // ENOTDIR: a folder on the way is a file, so there is no such file either.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new CliError('CLI_ERR_CONFIG', `Cannot read ${file}: ${(e as Error).message}.`, { cause: e });
  }
}

function badFile(file: string, e: unknown, hint: string): CliError {
  const why = e instanceof CryptoError ? e.message : String(e);
  return new CliError('CLI_ERR_CONFIG', `${file} is malformed: ${why} ${hint}`, { cause: e });
}

/**
 * Reads transfer.info from `dir`; null when there is none. When files come from the
 * command line, a transfer.info with only its first two lines is accepted.
 */
export async function readTransferInfo(
  dir: string,
  opts: { filesGiven: boolean },
): Promise<(Omit<TransferInfo, 'filePath'> & { filePath?: string }) | null> {
  const file = path.join(dir, TRANSFER_INFO);
  const text = await readText(file);
  if (text === null) return null;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  try {
    if (opts.filesGiven && lines.length === 2) {
      const { filePath: _, ...rest } = parseTransferInfo(`${lines.join('\n')}\n-\n`);
      return rest;
    }
    return parseTransferInfo(text);
  } catch (e) {
    throw badFile(file, e, 'Fix it (line 1 host:port, line 2 your name, line 3 the file to send).');
  }
}

/**
 * Reads me.info from `dir`; null when there is none. A me.info with only the name and
 * ID lines takes its private key from priv.key.
 */
export async function readIdentity(dir: string): Promise<Identity | null> {
  const file = path.join(dir, ME_INFO);
  const text = await readText(file);
  if (text === null) return null;
  const hint = `Fix it, or move it away to register anew (the server will then need a new name or a reset).`;
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  try {
    if (lines.length === 2) {
      const key = await readText(path.join(dir, PRIV_KEY));
      if (key !== null) return parseMeInfo(`${lines.join('\n')}\n${key}`);
    }
    return parseMeInfo(text);
  } catch (e) {
    throw badFile(file, e, hint);
  }
}

const IDENTITY_LOST =
  'The server has registered you, but this identity is lost: make the folder writable and register with a new name';

/** Writes `text` to `file` atomically (platform/atomic-file.ts), mode 0600. */
async function writeAtomically(file: string, text: string, lost = IDENTITY_LOST): Promise<void> {
  try {
    await writeFileAtomically(file, text, { mode: PRIVATE_FILE_MODE });
  } catch (e) {
    throw new CliError('CLI_ERR_IDENTITY_WRITE', `Cannot write ${file}: ${(e as Error).message}. ${lost}.`, {
      cause: e,
    });
  }
}

/**
 * Creates `dir` if it does not exist yet, and the folders on the way that are missing, each
 * 0700 whatever the umask (they hold private keys). A folder that exists keeps its mode.
 */
async function makePrivateFolder(dir: string): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  if (first === undefined) return;
  // mkdir's mode is narrowed by the umask, never widened; chmod makes it exact. `first` is
  // the topmost folder mkdir made: it and those below it, down to `dir`, are this run's.
  const top = path.resolve(first);
  for (let f = path.resolve(dir); ; f = path.dirname(f)) {
    await chmod(f, PRIVATE_FOLDER_MODE);
    if (f === top || path.dirname(f) === f) break;
  }
}

/**
 * Makes sure a new identity can be saved in `dir` before anything is sent: creates the
 * folder (0700) if it does not exist yet and writes (then removes) a probe file. Registering
 * first and failing to save would burn the name on the server with no key to use it.
 */
export async function ensureIdentityDir(dir: string): Promise<void> {
  const probe = path.join(dir, `.sft-write-test.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await makePrivateFolder(dir);
    const handle = await open(probe, 'wx', PRIVATE_FILE_MODE);
    await handle.close();
    await unlink(probe);
  } catch (e) {
    await unlink(probe).catch(() => {});
    throw new CliError(
      'CLI_ERR_CONFIG',
      `${dir} cannot hold a new identity (me.info and priv.key): ${(e as Error).message}. ` +
        'Nothing was sent. Choose a writable folder with --dir, or make this one writable.',
      { cause: e },
    );
  }
}

/** The text of invite.link in `dir` (a link or a bare token, trimmed); null when there is none. */
export async function readSavedInvite(dir: string): Promise<string | null> {
  const text = await readText(path.join(dir, INVITE_LINK));
  return text === null || text.trim() === '' ? null : text.trim();
}

/** Keeps the invite for later runs: invite.link, mode 0600 (it lets whoever holds it send). */
export async function saveInvite(dir: string, link: string): Promise<void> {
  await writeAtomically(path.join(dir, INVITE_LINK), `${link}\n`, 'The invite was used but not saved');
}

/**
 * Before a registration after a 1606 rewrites me.info and priv.key: copies them to
 * me.info.replaced and priv.key.replaced (0600), unless a pair is kept there already (the
 * first one replaced is the one most likely registered with the right server). Protocol 3
 * authenticates no server, so a 1606 may come from a man in the middle or a wrong --server,
 * and the rewrite lost for good the identity the real server knows, its name taken there.
 * Returns the path kept, or null when a pair was kept before.
 */
export async function keepReplacedIdentity(dir: string): Promise<string | null> {
  const kept = path.join(dir, ME_INFO_REPLACED);
  if ((await readText(kept)) !== null) return null;
  const lost =
    'The new registration was not saved, so me.info still holds the identity it would have replaced';
  const privKey = await readText(path.join(dir, PRIV_KEY));
  if (privKey !== null) await writeAtomically(path.join(dir, PRIV_KEY_REPLACED), privKey, lost);
  const meInfo = await readText(path.join(dir, ME_INFO));
  if (meInfo !== null) await writeAtomically(kept, meInfo, lost);
  return kept;
}

/** Writes me.info and priv.key (reference format, mode 0600), each atomically. */
export async function writeIdentity(dir: string, identity: Identity): Promise<void> {
  await writeAtomically(path.join(dir, PRIV_KEY), formatPrivKey(identity.privateKeyPkcs8));
  await writeAtomically(path.join(dir, ME_INFO), formatMeInfo(identity));
}
