/** The one banner `npm start` prints once every part listens. */
import type { AccessMode } from '../lib/invite/access';
import { DEFAULT_PUBLIC_URL } from '../server/config';

export interface BannerFacts {
  host: string;
  webPort: string;
  /** host:port each took, from its listening event. */
  bridge: string;
  server: string;
  data: string;
  publicOrigin?: string;
  bridgeUrl?: string;
  access: AccessMode;
  /** The command that makes an invite link (invite mode). */
  inviteCommand?: string;
  /** The server's protocol v4 key fingerprint, which clients pin. */
  fingerprint?: string;
}

const LOOPBACK_OR_WILDCARD = ['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'];

/** The page's address as a person opens it (no trailing slash). */
export function pageUrl(f: { host: string; webPort: string; publicOrigin?: string }): string {
  if (f.publicOrigin) return f.publicOrigin.replace(/\/+$/, '');
  const local = LOOPBACK_OR_WILDCARD.includes(f.host);
  const host = f.host.includes(':') ? `[${f.host}]` : f.host;
  return `http://${local ? 'localhost' : host}:${f.webPort}`;
}

/**
 * `npm run server -- invite create --label NAME`, with `--data` and `--public-url` only where
 * npm start uses other values than the server's own defaults (./data, http://localhost:3000/).
 */
export function inviteCommand(opts: { data: string; defaultData: string; publicUrl: string }): string {
  const args = ['npm run server -- invite create'];
  if (opts.data !== opts.defaultData) args.push(`--data ${shellWord(opts.data)}`);
  if (opts.publicUrl !== DEFAULT_PUBLIC_URL) args.push(`--public-url ${shellWord(opts.publicUrl)}`);
  args.push('--label NAME');
  return args.join(' ');
}

function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export function startBanner(f: BannerFacts): string {
  const rows: [string, string][] = [
    ['Open', `${pageUrl(f)}  (the page: send files from a browser)`],
    ['Bridge', `${f.bridgeUrl ?? `ws://${f.bridge}/`}  (the page's WebSocket to the server)`],
    ['Server', `${f.server}  (npm run client -- --server ${f.server} --name NAME FILE...)`],
    ['Data', f.data],
  ];
  if (f.fingerprint) rows.push(['Key', `${f.fingerprint}  (the server's key: clients pin it on first use)`]);
  if (f.access === 'open') {
    rows.push(['Access', 'open: anyone who can reach these addresses can send']);
  } else {
    rows.push(['Access', 'invite: only people with an invite link can send']);
    rows.push([
      'Invite',
      `${f.inviteCommand ?? 'npm run server -- invite create --label NAME'}  (prints a link)`,
    ]);
  }
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const body = rows.map(([k, v]) => `  ${`${k}:`.padEnd(width)} ${v}`).join('\n');
  return `\n  sftransfer is running.\n${body}\n  Ctrl-C stops everything.\n`;
}
