import { describe, expect, it } from 'vitest';
import { allowedHosts, hostnameOf, requestHostAllowed } from '../../app/allowed-hosts';
import { connectSrcPolicy, resolveRuntimeConfig } from '../../app/runtime-config';

const headers = (h: Record<string, string>) => (name: string) => h[name.toLowerCase()] ?? null;

describe('allowed hosts', () => {
  it('parses Host values: names, IPv4, bracketed IPv6, ports; refuses anything else', () => {
    expect(hostnameOf('Files.Example.org:443')).toBe('files.example.org');
    expect(hostnameOf('[::1]:3000')).toBe('[::1]');
    expect(hostnameOf('127.0.0.1')).toBe('127.0.0.1');
    for (const bad of ['', 'a@evil.example', 'evil.example/x', 'evil example', '[::1', 'h:99999x', null]) {
      expect(hostnameOf(bad), String(bad)).toBeUndefined();
    }
  });

  it('defaults to the loopback names; a configured list replaces them', () => {
    expect([...allowedHosts({})].sort()).toEqual(['127.0.0.1', '[::1]', 'localhost']);
    expect([...allowedHosts({ SFT_PUBLIC_ORIGIN: 'https://Files.Example.org' })]).toEqual([
      'files.example.org',
    ]);
    expect(
      [
        ...allowedHosts({
          SFT_ALLOWED_HOSTS: 'a.example, b.example:8443',
          SFT_PUBLIC_ORIGIN: 'http://[::1]:3000',
        }),
      ].sort(),
    ).toEqual(['[::1]', 'a.example', 'b.example']);
  });

  it('a request passes only when Host and every X-Forwarded-Host entry are allowed', () => {
    const allowed = allowedHosts({});
    expect(requestHostAllowed(headers({ host: 'localhost:3000' }), allowed)).toBe(true);
    expect(requestHostAllowed(headers({ host: 'evil.example' }), allowed)).toBe(false);
    expect(requestHostAllowed(headers({}), allowed)).toBe(false);
    expect(
      requestHostAllowed(headers({ host: 'localhost', 'x-forwarded-host': 'evil.example' }), allowed),
    ).toBe(false);
    expect(
      requestHostAllowed(
        headers({ host: 'localhost', 'x-forwarded-host': 'localhost, evil.example' }),
        allowed,
      ),
    ).toBe(false);
    expect(
      requestHostAllowed(headers({ host: 'localhost', 'x-forwarded-host': '127.0.0.1:3000' }), allowed),
    ).toBe(true);
  });
});

describe('runtime config: the bridge URL from configuration only', () => {
  it('SFT_BRIDGE_URL, else SFT_PUBLIC_ORIGIN on SFT_BRIDGE_PORT, else loopback', () => {
    expect(resolveRuntimeConfig({ SFT_BRIDGE_URL: 'wss://files.example.org/ws' })).toEqual({
      bridgeUrl: 'wss://files.example.org/ws',
      access: 'invite',
    });
    expect(
      resolveRuntimeConfig({ SFT_PUBLIC_ORIGIN: 'https://files.example.org', SFT_BRIDGE_PORT: '8443' }),
    ).toEqual({ bridgeUrl: 'wss://files.example.org:8443/', access: 'invite' });
    expect(resolveRuntimeConfig({})).toEqual({ bridgeUrl: 'ws://127.0.0.1:8080/', access: 'open' });
    expect(resolveRuntimeConfig({ SFT_BRIDGE_URL: 'http://x' }).configError).toMatch(
      /not a ws:\/\/ or wss:\/\/ URL/,
    );
    expect(connectSrcPolicy('ws://127.0.0.1:8080/')).toBe("connect-src 'self' ws://127.0.0.1:8080");
  });
});

describe('runtime config: the access mode', () => {
  it('SFT_ACCESS, else open only while the bridge and the public origin are loopback', () => {
    expect(resolveRuntimeConfig({ SFT_ACCESS: 'invite' }).access).toBe('invite');
    expect(resolveRuntimeConfig({ SFT_ACCESS: 'open', SFT_PUBLIC_ORIGIN: 'https://x.example' }).access).toBe(
      'open',
    );
    expect(resolveRuntimeConfig({ SFT_BRIDGE_URL: 'ws://localhost:8080/' }).access).toBe('open');
    expect(resolveRuntimeConfig({ SFT_BRIDGE_URL: 'ws://192.168.1.2:8080/' }).access).toBe('invite');
    expect(
      resolveRuntimeConfig({
        SFT_BRIDGE_URL: 'ws://127.0.0.1:8080/',
        SFT_PUBLIC_ORIGIN: 'http://nas.lan:3000',
      }).access,
    ).toBe('invite');
    const odd = resolveRuntimeConfig({ SFT_ACCESS: 'closed' });
    expect(odd.access).toBe('invite');
    expect(odd.configError).toMatch(/SFT_ACCESS is set to "closed"/);
  });
});
