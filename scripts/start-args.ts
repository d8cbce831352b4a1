/**
 * The arguments of `npm start` / `npm run dev` (scripts/start.ts): `--dev` and `--help`,
 * nothing else. Read before anything is started, so `--help` and a mistyped option start
 * nothing.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_BRIDGE_PORT, DEFAULT_SERVER_PORT, DEFAULT_WEB_PORT } from '../lib/protocol';

export type StartArgs = { kind: 'run'; dev: boolean } | { kind: 'help' } | { kind: 'error'; message: string };

/** Exit status for a usage error (as the server, bridge and CLI use). */
export const USAGE_EXIT = 2;

export const START_HELP = `Usage: npm start                 the file server, the bridge and the web page together
       npm start -- --dev        the same with the page from next dev (also: npm run dev)
       npm start -- --help       this text
Options go after "--": before it npm takes them for itself.

It runs, each as its own process on SFT_HOST:
  the file server   server/main.ts --host SFT_HOST --port SFT_PORT --data SFT_DATA
                    (as npm run server; protocol v3 and v4 on one port)
  the bridge        bridge/main.ts --listen SFT_HOST:SFT_BRIDGE_PORT --target SFT_HOST:SFT_PORT
                    (as npm run bridge; the page's WebSocket to the file server)
  the web page      next start -p SFT_WEB_PORT -H SFT_HOST (next dev with --dev); without
                    --dev it first runs next build when the build is older than its sources
The bridge and the page start once the server listens and has made its keys.
It prints one banner once all three listen, restarts a part that dies (after 0.5, 1, 2, 4 s;
it stops everything when one dies 5 times within a minute) and stops all three on Ctrl-C
or SIGTERM.

Options:
  --dev        the page from next dev (no build; reloads on edits) instead of next start
  -h, --help   show this text

Environment (what npm start reads to choose ports, folders and addresses; all optional):
  SFT_HOST           address all three listen on (default 127.0.0.1)
  SFT_PORT           file server port (default ${DEFAULT_SERVER_PORT})
  SFT_BRIDGE_PORT    bridge port (default ${DEFAULT_BRIDGE_PORT})
  SFT_WEB_PORT       web page port (default ${DEFAULT_WEB_PORT})
  SFT_DATA           the server's data folder (default data/ in the repository)
  SFT_ACCESS         open | invite, for all three (default open while SFT_HOST is loopback,
                     else invite)
  SFT_PUBLIC_ORIGIN  the page's public origin: an Origin the bridge accepts, a host the page
                     answers for, where invite links point
  SFT_PUBLIC_URL     the page URL invite links are made under (default SFT_PUBLIC_ORIGIN, else
                     the page's URL, http://localhost:SFT_WEB_PORT/ on loopback)
  SFT_BRIDGE_URL     the bridge URL the page connects to (default ws://SFT_HOST:SFT_BRIDGE_PORT/,
                     or the host of SFT_PUBLIC_ORIGIN on that port)
  SFT_ALLOWED_HOSTS  host names the page answers for (default localhost, 127.0.0.1, [::1] and
                     SFT_HOST)
  SFT_LOG_FORMAT     pretty | json (default pretty on a terminal, else json)
  NEXT_TELEMETRY_DISABLED  Next.js telemetry, off (1) unless set
The server and the bridge also read their own settings from the environment (npm run server
-- --help, npm run bridge -- --help), except where the flags npm start gives them (above) win.
`;

/** `argv` without node and the script: what to do. */
export function parseStartArgs(argv: string[]): StartArgs {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { dev: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    if (values.help) return { kind: 'help' };
    return { kind: 'run', dev: values.dev === true };
  } catch (e) {
    const quoted = /'([^']*)'/.exec((e as Error).message)?.[1];
    const code = (e as NodeJS.ErrnoException).code;
    const what =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? `unknown option ${quoted ?? ''}`.trim()
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? `unexpected argument "${quoted ?? ''}"`
          : (e as Error).message;
    return {
      kind: 'error',
      message: `npm start: ${what}. It takes only --dev and --help (npm start -- --help).`,
    };
  }
}
