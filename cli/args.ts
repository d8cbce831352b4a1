/** Command-line parsing for the CLI client (pure: no fs, no process). */
import { DEFAULT_SERVER_PORT, MAX_CLIENT_NAME_LENGTH } from '../lib/protocol';
import { MAX_CLIENT_NAME_BYTES } from '../lib/protocol/v4/constants';
import { flag, helpText, parseOptions, value } from '../platform/options';
import { duration, hostPort, oneOf, text, url } from '../platform/validators';
import { DEFAULT_ANSWER_TIMEOUT_MS } from './answer-deadline';
import { CliError } from './errors';

const serverHostPort = hostPort({ defaultPort: DEFAULT_SERVER_PORT, minPort: 1 });
const webSocketUrl = url(['ws:', 'wss:']);

export interface CliArgs {
  help: boolean;
  /** host:port, [ipv6]:port, or a ws:// / wss:// URL of a bridge. */
  server?: string;
  name?: string;
  /** Folder with transfer.info, me.info and priv.key. */
  dir?: string;
  /** One JSON object per file on stdout instead of the readable line. */
  json: boolean;
  /** An invite link or bare token, for a bridge in invite mode (ws:// --server only). */
  invite?: string;
  /** 3, 4, or auto (4, falling back to 3 on a new connection when the server does not speak 4); unset: auto. */
  protocol?: Protocol;
  /** Milliseconds a server may keep the CLI waiting before the connection is closed (cli/answer-deadline.ts). */
  timeoutMs: number;
  files: string[];
}

export type Protocol = '3' | '4' | 'auto';
export const PROTOCOLS: readonly Protocol[] = ['3', '4', 'auto'];

/** The CLI's flags. No environment variables: its settings live in transfer.info and me.info. */
export const CLI_OPTIONS = {
  server: value(text, {
    arg: 'HOST:PORT',
    help: `the file server (IPv6 as [address]:PORT; PORT defaults to ${DEFAULT_SERVER_PORT}), or ws://HOST:PORT/PATH for a WebSocket bridge (default: line 1 of transfer.info)`,
  }),
  name: value(text, {
    arg: 'NAME',
    help:
      `client name to register as. Protocol 4: 1 to ${MAX_CLIENT_NAME_BYTES} bytes of UTF-8 (any language), no control characters; ` +
      `protocol 3 (also when auto falls back to it): printable ASCII (space to ~), 1 to ${MAX_CLIENT_NAME_LENGTH} characters ` +
      '(default: the name kept in me.info or v4.name, else line 2 of transfer.info)',
  }),
  dir: value(text, {
    arg: 'FOLDER',
    help: 'folder holding transfer.info and the identity files (me.info, priv.key; v4.key, v4.name, known_servers, v4-uploads.json) (default: the folder you typed the command in)',
  }),
  invite: value(text, {
    arg: 'LINK',
    help: 'the invite link the owner of the server gave you (or its bare sfi1... token), through a bridge (--server ws://...) or over TCP with protocol 4; kept in invite.link in the identity folder for later runs through the bridge',
  }),
  protocol: value(oneOf(PROTOCOLS), {
    arg: '3|4|auto',
    default: 'auto' as Protocol,
    help: "protocol version: 4 (authenticated encryption, resumable, any size), 3 (the reference protocol), or auto: 4, falling back to 3 when the server does not speak it, or when an invite's client slot is held by this folder's protocol 3 identity (default auto)",
  }),
  timeout: value(duration(3600), {
    arg: 'SECONDS',
    default: DEFAULT_ANSWER_TIMEOUT_MS,
    help: `how long a server may keep us waiting, without answering or taking our data, before the connection is closed (a server that never answers, or drips its answer, cannot hold the CLI) (default ${DEFAULT_ANSWER_TIMEOUT_MS / 1000})`,
  }),
  json: flag({
    help: 'one JSON object per file on stdout (name, path, size, crc, status, seconds, ...) for scripts',
  }),
} as const;

export const USAGE = helpText(CLI_OPTIONS, {
  usage: `Usage: npm run client -- [--server HOST:PORT|ws://...] [--invite LINK] [--name NAME] [--dir FOLDER] [--protocol 3|4|auto] [--timeout SECONDS] [--json] [FILE...]
       npx sft-client [options] [FILE...]

Sends files to the file server, encrypted: with protocol 4 (AES-256-GCM records, the
server's key pinned, resumable, each file's SHA-256 checked), or with protocol 3
(AES-256-CBC, each file's CRC checked). FILE...: files to send, one after another on one
connection (default: line 3 of transfer.info, relative to --dir); after -- every argument
is a file.`,
  footer: `With no options it behaves like the reference client: it reads transfer.info, registers
on the first run (writing v4.key and v4.name with protocol 4, the default; me.info and
priv.key with protocol 3) and reconnects on later runs with the name kept there.

Through a bridge in invite mode, pass --invite LINK once: it is checked before connecting
(form and expiry), offered in the WebSocket handshake (never in the URL) and kept in
invite.link (mode 0600) beside me.info, so later runs with --server ws://... use it.

Relative paths are relative to the folder you typed the command in (also under npm run).
Every file is checked first: if any is missing or cannot be sent, none is sent.

Progress goes to stderr; one line per file goes to stdout:
  protocol 4: NAME  SIZE bytes  SHA-256 HEX  verified[  in S s, R MiB/s][  (resumed at record N: ...)]
  protocol 3: NAME  SIZE bytes  CRC N  verified[  in S s, R MiB/s]
  either:     ... FAILED after N attempts | FAILED (reason)
(the time and speed only for transfers of a second or more; after a resume, the speed of
what this run sent). With --json, one JSON object per file instead: {"name","path","size",
"status":"verified"|"failed"|"not-sent","crc","seconds","attempts","reason"}, and with
protocol 4 also "sha256","protocol","resumedFrom","storedAs"; crc is null when none was
computed. When no file could be tried (the server unreachable), each still gets its
"not-sent" object; a usage error (exit 2) writes nothing to stdout.
Exit status: 0 when every file was verified, 1 when a transfer failed, 2 for a usage
or configuration error (a wrong file argument among them), 130 when interrupted.`,
});

function usageError(message: string): CliError {
  return new CliError('CLI_ERR_USAGE', message);
}

/** Parses argv (without node and script). `--` ends options. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const { help, values, positionals } = parseOptions(CLI_OPTIONS, argv, {
    positionals: true,
    fail: usageError,
  });
  const out: CliArgs = { help, json: values.json === true, files: positionals, timeoutMs: values.timeout };
  if (values.protocol !== 'auto') out.protocol = values.protocol;
  if (values.server !== undefined) out.server = values.server;
  if (values.name !== undefined) out.name = values.name;
  if (values.dir !== undefined) out.dir = values.dir;
  if (values.invite !== undefined) out.invite = values.invite;
  return out;
}

export type ServerAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'ws'; url: string };

/** Parses --server: ws:// or wss:// URLs go to the bridge, anything else is host:port. */
export function parseServerAddress(address: string): ServerAddress {
  if (/^wss?:\/\//i.test(address)) {
    try {
      return { kind: 'ws', url: webSocketUrl(address, '--server').toString() };
    } catch {
      throw usageError(`--server ${address} is not a valid WebSocket URL.`);
    }
  }
  try {
    return { kind: 'tcp', ...serverHostPort(address, '--server') };
  } catch {
    throw usageError(
      `--server ${JSON.stringify(address)} is not HOST[:PORT] (IPv6 as [address]:PORT, port 1..65535) or a ws:// URL.`,
    );
  }
}
