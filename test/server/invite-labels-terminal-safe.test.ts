/**
 * Invite labels in the owner's output. `invite create` refuses a label with control or bidi
 * characters (admin-options.ts), but what `invite list` and `invite revoke` print is the
 * stored row: a label stored before that rule, or edited by hand in defensive.db, used to
 * reach the terminal raw in `invite revoke`'s sentence (an ESC ] sets the terminal's title,
 * U+009B is CSI, U+202E reorders the line). Every output now escapes it as names are
 * escaped (lib/protocol/name-chars.ts): `\u{1B}` on a terminal, `\u001b` in JSON lines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runAdminCommand } from '../../server/admin-command';
import type { InviteRow } from '../../server/database';
import { SqliteDatabase } from '../../server/db';
import { formatCreated } from '../../server/invite-command';
import { DATABASE_FILE } from '../../server/server';

const LABEL = 'Dana\u001b]0;owned\u0007 \u009b2J\u009b1;31m \u202etxt.exe';
const SHOWN = 'Dana\\u{1B}]0;owned\\u{7} \\u{9B}2J\\u{9B}1;31m \\u{202E}txt.exe';
/** What must not reach a terminal raw: the C0 controls but a line's own newline, DEL, C1, bidi. */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const ID = '0123456789abcdef';

let dir: string;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sft-invite-labels-'));
  // As an older version, or a hand edit, left it: the row holds the label raw.
  const db = new SqliteDatabase(join(dir, DATABASE_FILE), { checkpointIntervalMs: 0 });
  try {
    await db.insertInvite(row());
  } finally {
    await db.close();
  }
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function row(): InviteRow {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return {
    ID,
    Label: LABEL,
    CreatedAt: new Date(now).toISOString(),
    ExpiresAt: new Date(now + 86_400_000).toISOString(),
    MaxBytes: null,
    MaxFiles: null,
    MaxClients: 1,
    RevokedAt: null,
  };
}

const run = (args: string[]) => runAdminCommand([...args, '--data', dir], { tty: true });

it('invite list and invite revoke show a stored label with ESC, C1 CSI and U+202E escaped, tables, sentences and JSON', async () => {
  const list = await run(['invite', 'list']);
  const listJson = await run(['invite', 'list', '--json']);
  const revoked = await run(['invite', 'revoke', ID]);
  const revokedJson = await run(['invite', 'revoke', ID, '--json']);
  for (const [what, out] of Object.entries({ list, listJson, revoked, revokedJson }))
    expect(RAW.test(out), what).toBe(false);

  expect(list).toContain(SHOWN);
  expect(revoked).toContain(`Invite ${ID} ("${SHOWN}") revoked at `);
  // JSON lines keep the exact label, as \u escapes.
  for (const out of [listJson, revokedJson]) {
    expect((JSON.parse(out.trim()) as { label: string }).label).toBe(LABEL);
    expect(out).toContain('Dana\\u001b]0;owned\\u0007 \\u009b2J');
  }
});

it("invite create's lines show the row's label escaped", () => {
  const out = formatCreated(
    { row: row(), link: 'http://localhost:3000/#invite=x', fingerprint: 'SHA256:x' },
    true,
    new Set(),
  );
  expect(RAW.test(out)).toBe(false);
  expect(out.split('\n')[0]).toBe(`Invite ${ID} from "${SHOWN}"`);
});
