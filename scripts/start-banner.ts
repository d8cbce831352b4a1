/** The one banner `npm start` prints once every part listens. */
export interface BannerFacts {
  host: string;
  webPort: string;
  /** host:port each took, from its listening event. */
  bridge: string;
  server: string;
  data: string;
  publicOrigin?: string;
  bridgeUrl?: string;
}

export function startBanner(f: BannerFacts): string {
  const loopback = ['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(f.host);
  const page = f.publicOrigin ?? `http://${loopback ? 'localhost' : f.host}:${f.webPort}`;
  const rows: [string, string][] = [
    ['Open', `${page}  (the page: send files from a browser)`],
    ['Bridge', `${f.bridgeUrl ?? `ws://${f.bridge}/`}  (the page's WebSocket to the server)`],
    ['Server', `${f.server}  (npm run client -- --server ${f.server} --name NAME FILE...)`],
    ['Data', f.data],
    ['Access', 'open: anyone who can reach these addresses can send'],
  ];
  const width = Math.max(...rows.map(([k]) => k.length)) + 1;
  const body = rows.map(([k, v]) => `  ${`${k}:`.padEnd(width)} ${v}`).join('\n');
  return `\n  sftransfer is running.\n${body}\n  Ctrl-C stops everything.\n`;
}
