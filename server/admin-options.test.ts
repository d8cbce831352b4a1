import { describe, expect, it } from 'vitest';
import { parseAdminArgs } from './admin-options';
import { formatClients } from './clients-command';
import { formatInvites, inviteStatus } from './invite-command';

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
    expect(code(['invite', 'create', '--max-clients', '0'])).toBe('SERVER_ERR_BAD_ARGUMENT');
    expect(parseAdminArgs(['invite'], {}).command).toBe('help');
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

  it('clients list', () => {
    const c = {
      ID: new Uint8Array(16).fill(0xab),
      Name: 'ann',
      LastSeen: null,
      InviteID: row.ID,
      HasKey: true,
      files: 2,
      bytes: 2048,
    };
    expect(formatClients([c], true).split('\n')[1]).toMatch(
      /^ann\s+0123456789abcdef\s+yes\s+2\s+2.0 KiB\s+\?$/,
    );
    expect(JSON.parse(formatClients([c], false))).toEqual({
      name: 'ann',
      clientId: 'ab'.repeat(16),
      invite: row.ID,
      registered: true,
      files: 2,
      bytes: 2048,
      lastSeen: null,
    });
  });
});
