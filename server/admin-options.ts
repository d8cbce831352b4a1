/**
 * The owner's commands on the server's machine (issue 15):
 *   files
 *   invite create [--label TEXT] [--expires 7d] [--max-bytes 10G] [--max-files N] [--max-clients N]
 *   invite list | invite revoke ID | clients list | clients remove NAME [--files]
 * Their options table, in the form of every other (platform/options.ts); each takes --data
 * and --json. They open the database themselves, so they work whether the server runs or not.
 */

import { parseArgs } from 'node:util';
import { INVITE_ID_PATTERN, MAX_LABEL_LENGTH } from '../lib/invite';
import { unsafeNameChar } from '../lib/protocol/name-chars';
import { flag, helpText as formatHelp, parseArgsOptions, parseOptions, value } from '../platform/options';
import { duration, integer, orOff, size, type Validator } from '../platform/validators';
import { PUBLIC_URL_OPTION, SERVER_OPTIONS } from './config';
import { ServerError } from './errors';

export const DEFAULT_INVITE_EXPIRES_MS = 7 * 86_400_000;
export const DEFAULT_INVITE_MAX_CLIENTS = 1;
/** The longest an invite may run: ten years. */
const MAX_EXPIRES_SECONDS = 3650 * 86_400;

const label: Validator<string> = (t, what) => {
  if (t.length > MAX_LABEL_LENGTH) {
    throw new ServerError(
      'SERVER_ERR_BAD_ARGUMENT',
      `${what} is longer than ${MAX_LABEL_LENGTH} characters.`,
    );
  }
  // The label travels in the invite and is shown to whoever opens its link: no control or
  // bidi characters that would move its text or reach a terminal.
  const bad = unsafeNameChar(t);
  if (bad !== null) {
    throw new ServerError('SERVER_ERR_BAD_ARGUMENT', `${what} contains the control character ${bad}.`);
  }
  return t;
};

export const ADMIN_OPTIONS = {
  data: SERVER_OPTIONS.data,
  'public-url': PUBLIC_URL_OPTION,
  json: flag({ help: 'one JSON object per line (the default when the output is not a terminal)' }),
  label: value(label, {
    arg: 'TEXT',
    default: '',
    help: `invite create: who invites, shown on the page ("from Dana"; at most ${MAX_LABEL_LENGTH} characters)`,
  }),
  expires: value(duration(MAX_EXPIRES_SECONDS), {
    arg: 'TIME',
    default: DEFAULT_INVITE_EXPIRES_MS,
    help: 'invite create: how long the link works (default 7d; 12h, 30d ...)',
  }),
  // 0 or off: no limit, as for the server's own --max-total-bytes and --client-max-bytes/-files.
  'max-bytes': value(orOff(size(0, Number.MAX_SAFE_INTEGER), null), {
    arg: 'BYTES',
    help: "invite create: bytes the invite's clients may store together; 0 or off = no limit (default: no limit beyond the server's; 10G ...)",
  }),
  'max-files': value(orOff(integer(0, Number.MAX_SAFE_INTEGER), null), {
    arg: 'N',
    help: "invite create: files the invite's clients may store together; 0 or off = no limit (default: no limit beyond the server's)",
  }),
  'max-clients': value(integer(1, 1_000_000), {
    arg: 'N',
    default: DEFAULT_INVITE_MAX_CLIENTS,
    help: `invite create: clients (browsers, CLI identities) that may register with it (default ${DEFAULT_INVITE_MAX_CLIENTS})`,
  }),
  files: flag({ help: 'clients remove: delete their stored files too (default: they stay)' }),
  quick: flag({ help: 'check: presence and sizes only, no file read (default: every byte read)' }),
} as const;

type AdminOption = keyof typeof ADMIN_OPTIONS;

/** Each command, and the options it takes besides --data and --json. */
const COMMANDS = {
  files: [],
  check: ['quick'],
  'invite create': ['public-url', 'label', 'expires', 'max-bytes', 'max-files', 'max-clients'],
  'invite list': [],
  'invite revoke': [],
  'clients list': [],
  'clients remove': ['files'],
} as const satisfies Record<string, readonly AdminOption[]>;

export type AdminCommand = keyof typeof COMMANDS;

export interface AdminArgs {
  command: AdminCommand | 'help';
  /** The ID (invite revoke) or name (clients remove). */
  target?: string;
  values: ReturnType<typeof parseOptions<typeof ADMIN_OPTIONS>>['values'];
  /** Options left at their default (invite create prints which). */
  defaulted: Set<AdminOption>;
}

/** The first word of argv that makes it an owner's command. */
export const ADMIN_WORDS = ['files', 'check', 'invite', 'clients'] as const;

/**
 * `argv` as the owner's command it is, with its word first, or null when it is not one: the
 * word may follow options (`--data DIR clients list --json`), as it may in the server's own
 * argv. Which options take a value comes from both tables, so a folder named like a command
 * (`--data files`) stays a folder. What the command does not take is refused by its parser.
 */
export function adminArgv(argv: readonly string[]): string[] | null {
  const { tokens } = parseArgs({
    args: [...argv],
    options: { ...parseArgsOptions(SERVER_OPTIONS), ...parseArgsOptions(ADMIN_OPTIONS) },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === 'positional' || t.kind === 'option-terminator');
  if (first?.kind !== 'positional' || !(ADMIN_WORDS as readonly string[]).includes(first.value)) return null;
  return [first.value, ...argv.slice(0, first.index), ...argv.slice(first.index + 1)];
}

/** Commands of one word (no verb after it). */
const SINGLE_WORDS: readonly string[] = ['files', 'check'];

function bad(message: string): ServerError {
  return new ServerError('SERVER_ERR_BAD_ARGUMENT', message);
}

export function adminHelp(): string {
  return formatHelp(ADMIN_OPTIONS, {
    usage: [
      'Usage: npm run server -- files | check [--quick]',
      '       npm run server -- invite create [--label TEXT] [--expires 7d] [--max-bytes 10G] [--max-files N] [--max-clients N]',
      '       npm run server -- invite list | invite revoke ID',
      '       npm run server -- clients list | clients remove NAME [--files]',
      'Each takes --data DIR (default ./data) and --json; they work whether the server runs or not.',
    ].join('\n'),
    footer: [
      'check reads every stored file and compares it with its record (present, size, SHA-256 or CRC;',
      '--quick: present and size only), lists files no record names and changes a crash cut; it changes',
      'nothing, and what a running server changes meanwhile is not reported. Exit status 1 on a problem.',
      'A revoked or expired invite stops new uploads of its clients at once; stored files stay.',
      'clients remove NAME removes the v3 client NAME and every v4 key registered as NAME (listed as',
      '"NAME [v4 ...]"); a whole listed name removes that one only. Their files stay unless --files.',
      'Removing is not a ban: the sender can register again, under a new client ID, where no invite',
      'is needed (--access open; a direct connection from --tcp-allow in either mode) and with its',
      'invite while that is valid (revoke it too).',
    ].join('\n'),
  });
}

/** Parses `files ...` / `invite ...` / `clients ...` (argv without node and script). Throws SERVER_ERR_BAD_ARGUMENT. */
export function parseAdminArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): AdminArgs {
  const parsed = parseOptions(ADMIN_OPTIONS, argv, { env, positionals: true, fail: bad });
  const [word = '', ...rest] = parsed.positionals;
  // A one-word command (files) has no verb: what follows it is unexpected.
  const single = SINGLE_WORDS.includes(word);
  const verb = single ? undefined : rest.shift();
  const [target, ...extra] = rest;
  const defaulted = new Set(
    (Object.keys(ADMIN_OPTIONS) as AdminOption[]).filter((k) => parsed.source[k] === undefined),
  );
  if (parsed.help || (!single && verb === undefined))
    return { command: 'help', values: parsed.values, defaulted };
  const command = single ? word : `${word} ${verb}`;
  if (!(command in COMMANDS)) throw bad(`Unknown command "${command}". Run with --help to see the commands.`);
  const c = command as AdminCommand;
  const needsTarget = c === 'invite revoke' || c === 'clients remove';
  if (extra.length > 0 || (target !== undefined && !needsTarget)) {
    throw bad(`Unexpected argument "${extra[0] ?? target}".`);
  }
  if (needsTarget && target === undefined) {
    throw bad(
      c === 'invite revoke' ? 'Name the invite: invite revoke ID.' : 'Name the client: clients remove NAME.',
    );
  }
  if (c === 'invite revoke' && !INVITE_ID_PATTERN.test(target!)) {
    throw bad(`"${target}" is not an invite ID (16 hex digits, as in invite list).`);
  }
  const allowed = new Set<AdminOption>(['data', 'json', ...COMMANDS[c]]);
  for (const k of Object.keys(parsed.source) as AdminOption[]) {
    if (parsed.source[k] === 'flag' && !allowed.has(k)) throw bad(`--${k} does not apply to ${c}.`);
  }
  return { command: c, ...(target !== undefined ? { target } : {}), values: parsed.values, defaulted };
}
