/** Command-line parsing for the CLI client (pure: no fs, no process). */
import { DEFAULT_SERVER_PORT } from '../lib/protocol';
import { CliError } from './errors';

export interface CliArgs {
  help: boolean;
  /** host:port, [ipv6]:port, or a ws:// / wss:// URL of a bridge. */
  server?: string;
  name?: string;
  /** Folder with transfer.info, me.info and priv.key. */
  dir?: string;
  files: string[];
}

export const USAGE = `Usage: npm run client -- [--server HOST:PORT] [--name NAME] [--dir FOLDER] [FILE...]
       npx sft-client [options] [FILE...]

Sends files to a protocol v3 file server, encrypted with AES-256-CBC, and checks each
file's CRC with the server.

Options:
  --server HOST:PORT  The file server (IPv6 as [address]:PORT; PORT defaults to ${DEFAULT_SERVER_PORT}),
                      or ws://HOST:PORT/PATH for a WebSocket bridge.
                      Default: line 1 of transfer.info.
  --name NAME         Client name to register as (ASCII, at most 100 characters).
                      Default: the name in me.info, else line 2 of transfer.info.
  --dir FOLDER        Folder holding transfer.info, me.info and priv.key.
                      Default: the current folder.
  FILE...             Files to send, one after another on one connection.
                      Default: line 3 of transfer.info (relative to --dir).
  -h, --help          Show this help.

With no options it behaves like the reference client: it reads transfer.info, registers
on the first run (writing me.info and priv.key), and reconnects on later runs.

Progress goes to stderr; one line per file goes to stdout:
  NAME  SIZE bytes  CRC N  verified | FAILED after N attempts | FAILED (reason)
Exit status: 0 when every file was verified, 1 when a transfer failed, 2 for a usage
or configuration error, 130 when interrupted.`;

/** Parses argv (without node and script). `--` ends options. */
export function parseArgs(argv: readonly string[]): CliArgs {
  const out: CliArgs = { help: false, files: [] };
  let onlyFiles = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyFiles || !arg.startsWith('-') || arg === '-') {
      out.files.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyFiles = true;
      continue;
    }
    if (arg === '-h' || arg === '--help') {
      out.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (flag !== '--server' && flag !== '--name' && flag !== '--dir') {
      throw new CliError('CLI_ERR_USAGE', `Unknown option ${flag}. Run with --help to see the options.`);
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined || value === '') {
      throw new CliError(
        'CLI_ERR_USAGE',
        `Option ${flag} needs a value. Run with --help to see the options.`,
      );
    }
    if (flag === '--server') out.server = value;
    else if (flag === '--name') out.name = value;
    else out.dir = value;
  }
  return out;
}

export type ServerAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'ws'; url: string };

/** Parses --server: ws:// or wss:// URLs go to the bridge, anything else is host:port. */
export function parseServerAddress(text: string): ServerAddress {
  if (/^wss?:\/\//i.test(text)) {
    try {
      return { kind: 'ws', url: new URL(text).toString() };
    } catch {
      throw new CliError('CLI_ERR_USAGE', `--server ${text} is not a valid WebSocket URL.`);
    }
  }
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const port = m ? (m[3] === undefined ? DEFAULT_SERVER_PORT : Number(m[3])) : Number.NaN;
  if (!m || !(port >= 1 && port <= 65535)) {
    throw new CliError(
      'CLI_ERR_USAGE',
      `--server ${JSON.stringify(text)} is not HOST[:PORT] (IPv6 as [address]:PORT, port 1..65535) or a ws:// URL.`,
    );
  }
  return { kind: 'tcp', host: (m[1] ?? m[2])!, port };
}
