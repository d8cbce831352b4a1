import { describe, expect, it } from 'vitest';
import { inviteCommand, pageUrl, startBanner } from '../../scripts/start-banner';

const facts = {
  host: '127.0.0.1',
  webPort: '3000',
  bridge: '127.0.0.1:8080',
  server: '127.0.0.1:9090',
  data: '/srv/data',
};

describe("npm start's banner", () => {
  it('says the access mode, and in invite mode the command that makes a link', () => {
    expect(startBanner({ ...facts, access: 'open' })).toContain(
      'Access: open: anyone who can reach these addresses can send',
    );
    const invite = startBanner({
      ...facts,
      access: 'invite',
      inviteCommand: 'npm run server -- invite create --label NAME',
    });
    expect(invite).toContain('invite: only people with an invite link can send');
    expect(invite).toContain('Invite: npm run server -- invite create --label NAME  (prints a link)');
  });

  it("shows the server's key fingerprint when there is one", () => {
    expect(startBanner({ ...facts, access: 'open' })).not.toContain('Key:');
    expect(startBanner({ ...facts, access: 'open', fingerprint: 'SHA256:abc' })).toContain(
      "Key:    SHA256:abc  (the server's key: clients pin it on first use)",
    );
  });

  it('the command names --data and --public-url only where they differ from the server defaults', () => {
    expect(
      inviteCommand({ data: '/r/data', defaultData: '/r/data', publicUrl: 'http://localhost:3000/' }),
    ).toBe('npm run server -- invite create --label NAME');
    expect(
      inviteCommand({ data: '/my data', defaultData: '/r/data', publicUrl: 'https://files.example.org/' }),
    ).toBe(
      "npm run server -- invite create --data '/my data' --public-url https://files.example.org/ --label NAME",
    );
    expect(pageUrl({ host: '0.0.0.0', webPort: '3000' })).toBe('http://localhost:3000');
    expect(pageUrl({ host: '::1', webPort: '3000', publicOrigin: 'https://f.example/' })).toBe(
      'https://f.example',
    );
  });
});
