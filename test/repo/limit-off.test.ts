/**
 * One rule for every byte and count limit of the server, the bridge and `invite create`:
 * 0 and `off` mean the same thing. Either both turn the limit off (and its --help line, its
 * row in server/README.md and its line in docs/SECURITY.md say "0 or off"), or both are
 * refused with a sentence naming the flag and what it takes. Before, --max-total-bytes
 * refused 0 and had no other way to say "no limit" while --disk-reserve took 0 for none, and
 * --max-file-size took 0 for "empty files only".
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BRIDGE_OPTIONS } from '../../bridge/config';
import type { OptionsTable, ValueOption } from '../../platform/options';
import { OptionError } from '../../platform/validators';
import { ADMIN_OPTIONS } from '../../server/admin-options';
import { SERVER_OPTIONS } from '../../server/config';

const ROOT = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const security = read('docs/SECURITY.md');
const serverReadme = read('server/README.md');

/** The limits that can be turned off, and the value off gives (null: no limit, 0: none). */
const CAN_BE_OFF: Record<string, unknown> = {
  'server --max-total-bytes': null,
  'server --client-max-bytes': null,
  'server --client-max-files': null,
  'server --disk-reserve': 0,
  'server --min-upload-rate': 0,
  'invite --max-bytes': null,
  'invite --max-files': null,
};

const tables: [string, OptionsTable][] = [
  ['server', SERVER_OPTIONS],
  ['bridge', BRIDGE_OPTIONS],
  ['invite', ADMIN_OPTIONS],
];

/** The value flags that take a size or a count. */
function limits(): [string, ValueOption<unknown>][] {
  return tables.flatMap(([part, table]) =>
    Object.entries(table)
      .filter(([, o]) => o.kind === 'value' && (o.arg === 'BYTES' || o.arg === 'N'))
      .map(([name, o]) => [`${part} --${name}`, o as ValueOption<unknown>] as [string, ValueOption<unknown>]),
  );
}

function outcome(
  o: ValueOption<unknown>,
  text: string,
  flag: string,
): { value: unknown } | { error: string } {
  try {
    return { value: o.parse(text, flag) };
  } catch (e) {
    if (!(e instanceof OptionError)) throw e;
    return { error: e.message };
  }
}

describe('0 and off, for every size and count limit', () => {
  it('turn off exactly the limits that can be off, to the same value', () => {
    for (const [key, o] of limits()) {
      const flag = key.slice(key.indexOf(' ') + 1);
      const zero = outcome(o, '0', flag);
      const off = outcome(o, 'off', flag);
      const upper = outcome(o, 'OFF', flag);
      if (key in CAN_BE_OFF) {
        expect([key, zero, off, upper]).toEqual([key, ...Array(3).fill({ value: CAN_BE_OFF[key] })]);
        expect(o.help, key).toContain('0 or off');
      } else {
        for (const r of [zero, off]) {
          expect(r, key).toHaveProperty('error');
          // The sentence names the flag and what it takes.
          if ('error' in r)
            expect(r.error, key).toMatch(new RegExp(`^${flag} .*(\\d+\\.\\.\\d+|at least 1)`));
        }
        expect(o.help, key).not.toContain('0 or off');
      }
    }
    expect(Object.keys(CAN_BE_OFF).filter((k) => !limits().some(([l]) => l === k))).toEqual([]);
  });

  it('a bad value of one that can be off says that 0 and off are taken', () => {
    for (const key of Object.keys(CAN_BE_OFF)) {
      const o = limits().find(([k]) => k === key)![1];
      const flag = key.slice(key.indexOf(' ') + 1);
      for (const bad of ['none', '-1', '1.5G'])
        expect(outcome(o, bad, flag)).toEqual({
          error: expect.stringMatching(new RegExp(`^${flag} .*0 or off`)),
        });
    }
  });

  it('server/README.md and docs/SECURITY.md say "0 or off" on the line of each that can be off', () => {
    const lineOf = (text: string, flag: string) =>
      text.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${flag}\``)) ?? '';
    for (const key of Object.keys(CAN_BE_OFF)) {
      const flag = key.slice(key.indexOf(' ') + 1);
      if (key.startsWith('server '))
        expect(lineOf(serverReadme, flag), `README ${flag}`).toContain('0 or off');
      // The limits table's row whose setting column names the flag says it.
      const rows = security.split('\n').filter((l) => l.startsWith('|') && l.includes(`${flag}\``));
      expect(
        rows.some((l) => l.split(' | ')[2]?.includes('0 or off')),
        `SECURITY ${flag}`,
      ).toBe(true);
    }
  });
});
