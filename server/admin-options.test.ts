import { describe, expect, it } from 'vitest';
import { adminArgv, parseAdminArgs } from './admin-options';
import { formatClients, formatRemoved, identitiesNamed, keyKind, v4ChosenName } from './clients-command';
import { formatInvites, inviteStatus } from './invite-command';
import { storedV4Name } from './v4/v4-clients';

describe("the owner's commands", () => {
  it('invite create: defaults (7 days, 1 client, no byte or file limit) and which were given', () => {
    const a = parseAdminArgs(['invite', 'create', '--label', 'Dana', '--max-bytes', '10GiB'], {});
    expect(a.command).toBe('invite create');
    expect(a.values).toMatchObject({
      label: 'Dana',
      expires: 7 * 86_400_000,
      'max-bytes': 10 * 1024 ** 3,
      'max-clients': 1,
      'public-url': 'http://localhost:3000/',
    });
    expect(a.values['max-files']).toBeUndefined();
    expect(a.defaulted.has('expires')).toBe(true);
    expect(a.defaulted.has('max-bytes')).toBe(false);
    expect(parseAdminArgs(['invite', 'create', '--expires', '30d'], {}).values.expires).toBe(30 * 86_400_000);
    expect(
      parseAdminArgs(['invite', 'create'], { SFT_PUBLIC_URL: 'https://f.example/' }).values['public-url'],
    ).toBe('https://f.example/');
  });

  it("invite create: --max-bytes and --max-files take 0 or off for no limit, as the server's limits", () => {
    for (const word of ['0', 'off'])
      expect(
        parseAdminArgs(['invite', 'create', '--max-bytes', word, '--max-files', word], {}).values,
      ).toMatchObject({ 'max-bytes': null, 'max-files': null });
    expect(() => parseAdminArgs(['invite', 'create', '--max-clients', '0'], {})).toThrow(
      /^--max-clients 0 is out of range \(1\.\.1000000\)\.$/,
    );
  });

  it('refuses what does not fit: unknown words, a bad ID, a missing name, options of another command', () => {
    const code = (argv: string[]) => {
      try {
        parseAdminArgs(argv, {});
        return 'ok';
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    expect(code(['invite', 'make'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['invite', 'revoke', 'nope'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['invite', 'revoke', '0123456789abcdef'])).toBe('ok');
    expect(code(['clients', 'remove'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['clients', 'list', '--label', 'x'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['invite', 'create', '--label', 'x'.repeat(101)])).toBe('SERVER_ERR_BAD_ARGUMENT');
    // Shown to whoever opens the link: no controls, no bidi overrides.
    for (const bad of ['Dana\u001b[2J', 'Dana\u009b', 'Dana\u202Etxt.exe'])
      expect(code(['invite', 'create', '--label', bad])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['invite', 'create', '--label', 'Dana & Émile 🎉'])).toBe('ok');
    expect(code(['invite', 'create', '--max-clients', '0'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(parseAdminArgs(['invite'], {}).command).toBe('help');
    expect(code(['files', 'extra'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(code(['files', '--files'])).toBe('SERVER_ERR_BAD_ARGUMENT');
  });

  it('the word may follow options, and a folder named like a command stays a folder', () => {
    expect(adminArgv(['--data', 'd', 'clients', 'list', '--json'])).toEqual([
      'clients',
      '--data',
      'd',
      'list',
      '--json',
    ]);
    expect(adminArgv(['--data=d', '--json', 'files'])).toEqual(['files', '--data=d', '--json']);
    expect(adminArgv(['--label', 'Dana', 'invite', 'create'])).toEqual([
      'invite',
      '--label',
      'Dana',
      'create',
    ]);
    expect(parseAdminArgs(adminArgv(['--data', 'd', 'files', '--json']) ?? [], {})).toMatchObject({
      command: 'files',
      values: { json: true, data: 'd' },
    });
    // Not a command: the server's own argv.
    expect(adminArgv(['--data', 'files'])).toBeNull();
    expect(adminArgv(['--data', 'files', 'info'])).toBeNull();
    expect(adminArgv(['--port', '1256'])).toBeNull();
    expect(adminArgv([])).toBeNull();
    expect(adminArgv(['--', 'files'])).toBeNull();
    // An option the command does not take is refused by the command's parser, by name.
    expect(() => parseAdminArgs(adminArgv(['--port', '1', 'files']) ?? [], {})).toThrow(/--port/);
  });

  it('files takes --data and --json like the others', () => {
    const a = parseAdminArgs(['files', '--json', '--data', 'd'], {});
    expect(a).toMatchObject({ command: 'files', values: { json: true, data: 'd' } });
    expect(a.target).toBeUndefined();
    expect(parseAdminArgs(['files'], { SFT_DATA: 'e' }).values).toMatchObject({ json: false, data: 'e' });
    expect(parseAdminArgs(['files', '--help'], {}).command).toBe('help');
  });

  const row = {
    ID: '0123456789abcdef',
    Label: 'Dana',
    CreatedAt: '2026-01-01T00:00:00.000Z',
    ExpiresAt: '2026-01-08T00:00:00.000Z',
    MaxBytes: 10 * 1024 ** 3,
    MaxFiles: null,
    MaxClients: 2,
    RevokedAt: null,
    clients: 1,
    files: 3,
    bytes: 2_202_010,
  };
  const now = Date.parse('2026-01-02T00:00:00.000Z');

  it('invite list: used of the limits with human sizes on a terminal, bytes in JSON lines', () => {
    const [head, line] = formatInvites([row], true, now).split('\n');
    expect(head).toMatch(/^ID\s+LABEL\s+STATUS\s+CREATED\s+EXPIRES\s+CLIENTS\s+FILES\s+BYTES$/);
    expect(line).toContain('1/2');
    expect(line).toContain('2.1 MiB/10');
    expect(JSON.parse(formatInvites([row], false, now))).toMatchObject({
      status: 'active',
      bytes: 2_202_010,
      maxFiles: null,
    });
    expect(inviteStatus(row, Date.parse(row.ExpiresAt))).toBe('expired');
    expect(inviteStatus({ ...row, RevokedAt: '2026-01-01T01:00:00.000Z' }, now)).toBe('revoked');
  });

  const ann = {
    ID: new Uint8Array(16).fill(0xab),
    Name: 'ann',
    LastSeen: null,
    InviteID: row.ID,
    HasKey: true,
    HasV4Key: false,
    files: 2,
    bytes: 2048,
  };

  it('clients list: which key each client has (RSA for v3, v4, or none yet)', async () => {
    expect(formatClients([ann], true).split('\n')[1]).toMatch(
      /^ann\s+0123456789abcdef\s+RSA\s+2\s+2.0 KiB\s+\?$/,
    );
    expect(JSON.parse(formatClients([ann], false))).toEqual({
      name: 'ann',
      clientId: 'ab'.repeat(16),
      invite: row.ID,
      registered: true,
      key: 'RSA',
      files: 2,
      bytes: 2048,
      lastSeen: null,
    });
    const v4 = {
      ...ann,
      Name: await storedV4Name('ann', new Uint8Array(32).fill(7)),
      HasKey: false,
      HasV4Key: true,
    };
    const keyless = { ...ann, Name: 'new', HasKey: false, files: 0, bytes: 0 };
    const [, v4Line, keylessLine] = formatClients([v4, keyless], true).split('\n');
    expect(v4Line).toMatch(/^ann \[v4 .{8}\]\s+0123456789abcdef\s+v4\s+2\s/);
    expect(keylessLine).toMatch(/^new\s+0123456789abcdef\s+-\s+0\s/);
    const json = formatClients([v4, keyless], false)
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(json.map((c) => [c.key, c.registered])).toEqual([
      ['v4', true],
      [null, false],
    ]);
  });

  it("a v4 stored name gives back the chosen name (storedV4Name's form); other names none", async () => {
    for (const name of ['alice', 'a b [v4 x]', ' ']) {
      for (const fill of [0, 1, 0xfb, 0xff]) {
        const stored = await storedV4Name(name, new Uint8Array(32).fill(fill));
        expect(v4ChosenName(stored)).toBe(name);
      }
    }
    expect(v4ChosenName('alice')).toBeUndefined();
    expect(v4ChosenName('alice [v4 short]')).toBeUndefined();
    expect(keyKind({ HasKey: true, HasV4Key: false })).toBe('RSA');
    expect(keyKind({ HasKey: false, HasV4Key: true })).toBe('v4');
    expect(keyKind({ HasKey: false, HasV4Key: false })).toBeNull();
  });

  it('clients remove NAME means the client NAME and every v4 key registered as NAME; a whole v4 name that one', async () => {
    const named = async (name: string, fill: number) => ({
      ...ann,
      ID: new Uint8Array(16).fill(fill),
      Name: await storedV4Name(name, new Uint8Array(32).fill(fill)),
      HasKey: false,
      HasV4Key: true,
    });
    const a1 = await named('ann', 1);
    const a2 = await named('ann', 2);
    const list = [ann, a1, a2, await named('anna', 3), await named('bob', 4), { ...ann, Name: 'ann2' }];
    expect(identitiesNamed(list, 'ann')).toEqual([ann, a1, a2]);
    expect(identitiesNamed(list, a2.Name)).toEqual([a2]);
    expect(identitiesNamed(list, 'nobody')).toEqual([]);
    // Only rows with a v4 key count as keys of a name: a v3 client that chose such a name is its own.
    expect(identitiesNamed([{ ...a1, HasKey: true, HasV4Key: false }], 'ann')).toEqual([]);
    expect(identitiesNamed([{ ...a1, HasV4Key: false }], 'ann')).toEqual([]);
  });

  it('clients remove NAME also takes a name stored with control or bidi characters as clients list shows it', async () => {
    const odd = {
      ...ann,
      ID: new Uint8Array(16).fill(5),
      Name: await storedV4Name('eve\u009b8m\u202E', new Uint8Array(32).fill(5)),
      HasKey: false,
      HasV4Key: true,
    };
    const v3 = { ...ann, Name: 'old\u0085name' };
    const list = [ann, odd, v3];
    expect(identitiesNamed(list, 'eve\\u{9B}8m\\u{202E}')).toEqual([odd]);
    expect(identitiesNamed(list, 'eve\u009b8m\u202E')).toEqual([odd]);
    expect(
      identitiesNamed(list, odd.Name.replace('\u009b', '\\u{9B}').replace('\u202E', '\\u{202E}')),
    ).toEqual([odd]);
    expect(identitiesNamed(list, 'old\\u{85}name')).toEqual([v3]);
    expect(formatClients(list, true)).toContain('eve\\u{9B}8m\\u{202E} [v4 ');
    expect(
      formatRemoved(
        [{ name: odd.Name, clientId: '', key: 'v4', files: 0, bytes: 0, filesDeleted: false }],
        'eve\u009b',
        true,
      ),
    ).toMatch(/^Removed "eve\\u\{9B\}": 1 v4 key\.\nNAME .*\neve\\u\{9B\}8m\\u\{202E\} \[v4 /);
  });

  it('clients remove prints one JSON line per identity, and on a terminal how many of which kind', () => {
    const r = { name: 'ann', clientId: 'ab'.repeat(16), key: 'RSA' as const, files: 1, bytes: 1024 };
    const removed = [
      { ...r, filesDeleted: false },
      { ...r, name: 'ann [v4 abcdefgh]', key: 'v4' as const, files: 2, filesDeleted: false },
    ];
    expect(
      formatRemoved(removed, 'ann', false)
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l)),
    ).toEqual(removed);
    const text = formatRemoved(removed, 'ann', true);
    expect(text.split('\n')[0]).toBe('Removed "ann": 1 v3 client and 1 v4 key.');
    expect(text).toMatch(/^ann \[v4 abcdefgh\]\s+v4\s+2\s+1.0 KiB$/m);
    expect(text).toMatch(/Their 3 files \(2.0 KiB\) stay/);
    expect(formatRemoved([{ ...r, key: null, files: 0, bytes: 0, filesDeleted: true }], 'ann', true)).toMatch(
      /^Removed "ann": 1 v3 client\.\n[\s\S]*It had no files\.\n$/,
    );
  });
});
