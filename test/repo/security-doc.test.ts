/**
 * docs/SECURITY.md against the server's and the bridge's option tables: every flag that
 * limits what a peer can do has its line there (default, setting, what it stops), and every
 * environment variable the document names is one the programs read, under its current name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BRIDGE_OPTIONS } from '../../bridge/config';
import { SERVER_OPTIONS } from '../../server/config';

const ROOT = join(import.meta.dirname, '..', '..');
const doc = readFileSync(join(ROOT, 'docs', 'SECURITY.md'), 'utf8');

/** Flags that set no limit on a peer, and why. */
const NOT_LIMITS: Record<string, string> = {
  'server --port': 'where it listens',
  'server --data': 'where it keeps its files',
  'server --direct-writes': 'how it writes (O_DIRECT or the page cache), not how much',
  'server --public-url': 'the address printed in invite links',
  'bridge --listen': 'where it listens',
  'bridge --target': 'the file server it relays to',
  'bridge --connect-timeout': 'how long to wait for the file server, which is ours, not a peer',
  'bridge --cert': 'the TLS certificate file',
  'bridge --key': 'the TLS key file',
  'bridge --no-proxy-protocol': 'for a file server that does not read PROXY headers (a v3 reference server)',
};

interface Option {
  env?: string;
  oldEnv?: readonly string[];
}
const parts = [
  ['server', SERVER_OPTIONS],
  ['bridge', BRIDGE_OPTIONS],
] as const;

describe('docs/SECURITY.md', () => {
  test('names every limit flag of the server and the bridge', () => {
    const missing: string[] = [];
    for (const [part, options] of parts)
      for (const name of Object.keys(options)) {
        const key = `${part} --${name}`;
        if (name === 'help' || key in NOT_LIMITS) continue;
        if (!doc.includes(`--${name}\``) && !doc.includes(`--${name} `)) missing.push(key);
      }
    expect(missing).toEqual([]);
  });

  test('the exemptions are flags that exist', () => {
    const all = new Set(
      parts.flatMap(([part, options]) => Object.keys(options).map((n) => `${part} --${n}`)),
    );
    expect(Object.keys(NOT_LIMITS).filter((k) => !all.has(k))).toEqual([]);
  });

  test('names environment variables by the names the programs read', () => {
    const current = new Set<string>();
    const old = new Set<string>();
    for (const [, options] of parts)
      for (const o of Object.values(options) as Option[]) {
        if (o.env) current.add(o.env);
        for (const e of o.oldEnv ?? []) old.add(e);
      }
    // The web app's own variables (read by app/ and proxy.ts, not by an option table).
    for (const e of ['SFT_ALLOWED_HOSTS', 'SFT_PUBLIC_ORIGIN', 'SFT_BRIDGE_URL', 'SFT_BRIDGE_PORT'])
      current.add(e);
    const named = new Set(doc.match(/\b(?:SFT_|BRIDGE_)[A-Z0-9_]+\b/g));
    expect([...named].filter((e) => old.has(e)).map((e) => `${e} (an old name)`)).toEqual([]);
    expect([...named].filter((e) => !current.has(e) && !old.has(e))).toEqual([]);
  });
});
