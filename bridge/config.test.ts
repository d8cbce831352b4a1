import { describe, expect, test } from 'vitest';
import { DEFAULT_MAX_REQUEST_PAYLOAD, REQUEST_HEADER_SIZE } from '../lib/protocol';
import { type BridgeConfig, DEFAULT_CONFIG, parseConfig, parseHostPort } from './config';
import { BridgeError } from './errors';

function config(argv: string[], env: Record<string, string> = {}): BridgeConfig {
  const parsed = parseConfig(argv, env);
  if (parsed.help) throw new Error('unexpected --help');
  return parsed.config;
}

function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(BridgeError);
    return (err as BridgeError).code;
  }
  return undefined;
}

describe('parseConfig', () => {
  test('defaults: listen 127.0.0.1:8080, target 127.0.0.1:1256, the web app origins, limit = request limit + header', () => {
    const c = config([]);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(c.target).toEqual({ host: '127.0.0.1', port: 1256 });
    expect(c.origins).toEqual(['http://localhost:3000', 'http://127.0.0.1:3000']);
    expect(c.maxPayload).toBe(DEFAULT_MAX_REQUEST_PAYLOAD + REQUEST_HEADER_SIZE);
    expect(c.cert).toBeUndefined();
    expect(c.trustProxy).toBe(false);
    expect([c.maxPending, c.maxPendingPerIp, c.healthCacheMs]).toEqual([128, 8, 5000]);
    expect([c.maxRefusing, c.maxRefusingPerIp]).toEqual([64, 8]);
  });

  test('flags', () => {
    const c = config([
      '--listen',
      '0.0.0.0:9000',
      '--target',
      '[::1]:1300',
      '--origin',
      'https://files.example.org/',
      '--origin',
      'http://localhost:3001',
      '--max-payload',
      '70000',
      '--max-connections',
      '5',
      '--max-per-ip',
      '2',
      '--idle-timeout',
      '1.5',
      '--handshake-timeout',
      '3',
      '--connect-timeout',
      '0.5',
      '--max-pending',
      '40',
      '--max-pending-per-ip',
      '4',
      '--max-refusing',
      '20',
      '--max-refusing-per-ip',
      '3',
      '--health-cache',
      '2.5',
      '--cert',
      'c.pem',
      '--key',
      'k.pem',
      '--trust-proxy',
      '--trust-proxy-from',
      '10.0.0.5/32,fd00::/8',
      '--no-proxy-protocol',
      '--max-buffered-per-ip',
      '4M',
      '--max-buffered',
      '64M',
      '--log-rate',
      '3',
      '--access',
      'invite',
      '--invite-key',
      'invite.pub',
    ]);
    expect(c).toEqual({
      listen: { host: '0.0.0.0', port: 9000 },
      target: { host: '::1', port: 1300 },
      origins: ['https://files.example.org', 'http://localhost:3001'],
      maxPayload: 70000,
      maxConnections: 5,
      maxPerIp: 2,
      idleTimeoutMs: 1500,
      handshakeTimeoutMs: 3000,
      connectTimeoutMs: 500,
      maxPending: 40,
      maxPendingPerIp: 4,
      maxRefusing: 20,
      maxRefusingPerIp: 3,
      healthCacheMs: 2500,
      cert: 'c.pem',
      key: 'k.pem',
      trustProxy: true,
      trustProxyFrom: ['10.0.0.5/32', 'fd00::/8'],
      proxyProtocol: false,
      maxBufferedPerIp: 4 * 1024 * 1024,
      maxBuffered: 64 * 1024 * 1024,
      logRate: 3,
      access: 'invite',
      inviteKey: 'invite.pub',
    });
  });

  test('access: open by default on loopback only; invite needs --invite-key; open elsewhere warns', () => {
    expect(config([]).access).toBe('open');
    expect(config(['--listen', 'localhost:1']).access).toBe('open');
    expect(config(['--listen', '[::1]:1']).access).toBe('open');
    for (const host of ['0.0.0.0:1', '[::]:1', '192.0.2.1:1', 'files.example.org:1']) {
      expect(
        errorCode(() => parseConfig(['--listen', host])),
        host,
      ).toBe('BRIDGE_ERR_CONFIG');
      expect(config(['--listen', host, '--invite-key', 'k.pub']).access, host).toBe('invite');
    }
    expect(errorCode(() => parseConfig(['--access', 'invite']))).toBe('BRIDGE_ERR_CONFIG');
    expect(errorCode(() => parseConfig(['--access', 'closed']))).toBe('BRIDGE_ERR_CONFIG');
    const env = { SFT_BRIDGE_ACCESS: 'invite', SFT_BRIDGE_INVITE_KEY: '/k/invite.pub' };
    expect(config([], env)).toMatchObject({ access: 'invite', inviteKey: '/k/invite.pub' });
    const wide = parseConfig(['--listen', '0.0.0.0:1', '--access', 'open']);
    expect(!wide.help && wide.warnings.some((w) => w.startsWith('open access on 0.0.0.0'))).toBe(true);
    const quiet = parseConfig([]);
    expect(!quiet.help && quiet.warnings).toEqual([]);
  });

  test('--no-proxy-protocol warns that the file server then counts every client as one source', () => {
    const p = parseConfig(['--no-proxy-protocol']);
    expect(!p.help && p.warnings.some((w) => w.startsWith('--no-proxy-protocol: the file server sees'))).toBe(
      true,
    );
  });

  test('--trust-proxy: invite by default although --listen is loopback; open asked for warns', () => {
    // The proxy brings clients from elsewhere: open by default was open to the internet.
    expect(errorCode(() => parseConfig(['--trust-proxy']))).toBe('BRIDGE_ERR_CONFIG');
    expect(() => parseConfig(['--trust-proxy'])).toThrow(/default with --trust-proxy.*--invite-key/);
    expect(config(['--trust-proxy', '--invite-key', 'k.pub']).access).toBe('invite');
    const open = parseConfig(['--trust-proxy', '--access', 'open']);
    expect(!open.help && open.config.access).toBe('open');
    expect(!open.help && open.warnings.some((w) => w.startsWith('open access with --trust-proxy'))).toBe(
      true,
    );
  });

  test('environment variables, overridden by flags', () => {
    const env = {
      BRIDGE_LISTEN: '127.0.0.1:1',
      BRIDGE_TARGET: '10.0.0.2:1256',
      BRIDGE_ORIGINS: 'https://a.example, https://b.example',
      BRIDGE_MAX_PER_IP: '3',
      BRIDGE_TRUST_PROXY: '1',
      BRIDGE_MAX_PENDING: '50',
      BRIDGE_MAX_PENDING_PER_IP: '5',
      BRIDGE_HEALTH_CACHE: '1',
      SFT_BRIDGE_INVITE_KEY: 'invite.pub',
    };
    const c = config(['--listen', '127.0.0.1:2'], env);
    expect(c.listen.port).toBe(2);
    expect(c.target).toEqual({ host: '10.0.0.2', port: 1256 });
    expect(c.origins).toEqual(['https://a.example', 'https://b.example']);
    expect(c.maxPerIp).toBe(3);
    expect(c.trustProxy).toBe(true);
    expect(c.maxConnections).toBe(DEFAULT_CONFIG.maxConnections);
    expect([c.maxPending, c.maxPendingPerIp, c.healthCacheMs]).toEqual([50, 5, 1000]);
  });

  test('--help', () => {
    expect(parseConfig(['--help'])).toEqual({ help: true });
  });

  test('bad values are BRIDGE_ERR_CONFIG', () => {
    for (const argv of [
      ['--listen', '8080'],
      ['--listen', 'host:99999'],
      ['--target', ':1256'],
      ['--origin', 'not a url'],
      ['--max-payload', '100'],
      ['--max-connections', '0'],
      ['--max-per-ip', '1.5'],
      ['--idle-timeout', '-1'],
      ['--max-pending', '0'],
      ['--max-pending-per-ip', 'x'],
      ['--health-cache', '0'],
      ['--trust-proxy-from', 'proxy.example'],
      ['--cert', 'only-cert.pem'],
      ['--unknown'],
      ['positional'],
    ]) {
      expect(
        errorCode(() => parseConfig(argv)),
        argv.join(' '),
      ).toBe('BRIDGE_ERR_CONFIG');
    }
  });

  test('parseHostPort keeps IPv6 hosts', () => {
    expect(parseHostPort('[::1]:80', 'x')).toEqual({ host: '::1', port: 80 });
    expect(parseHostPort('localhost:0', 'x')).toEqual({ host: 'localhost', port: 0 });
  });
});
