import { describe, expect, it } from 'vitest';
import { DEFAULT_SERVER_PORT } from '../lib/protocol';
import { helpText, parseArgs, parseSize } from './config';

const noFile = (() => {
  throw new Error('ENOENT');
}) as never;
const file = (text: string) => (() => text) as never;

describe('parseArgs', () => {
  it('flags win over environment over port.info', () => {
    const r = parseArgs(
      ['--port', '9000', '--host=0.0.0.0'],
      { SFT_PORT: '8000', SFT_HOST: 'x' },
      '/w',
      file('7000'),
    );
    expect(r.config.port).toBe(9000);
    expect(r.config.host).toBe('0.0.0.0');
    expect(parseArgs([], { SFT_PORT: '8000' }, '/w', file('7000')).config.port).toBe(8000);
    expect(parseArgs([], {}, '/w', file('7000\n')).config.port).toBe(7000);
  });

  it('connection limits, login grace, trusted relays, upload floor and log rate: defaults, flags, environment', () => {
    const d = parseArgs([], {}, '/w', file('1')).config;
    expect(d).toMatchObject({
      maxConnections: 256,
      maxPerSource: 32,
      maxStartups: 128,
      maxStartupsPerSource: 16,
      loginGraceMs: 15_000,
      trustedProxies: ['127.0.0.0/8', '::1/128'],
      minUploadRate: 16 * 1024,
      uploadRateGraceMs: 30_000,
      logRate: 10,
    });
    const r = parseArgs(
      [
        '--max-per-source',
        '4',
        '--login-grace',
        '500ms',
        '--trusted-proxy',
        '10.0.0.5',
        '--min-upload-rate',
        '0',
      ],
      { SFT_TRUSTED_PROXIES: 'ignored', SFT_MAX_STARTUPS_PER_SOURCE: '2', SFT_LOG_RATE: '3' },
      '/w',
      file('1'),
    ).config;
    expect(r).toMatchObject({
      maxPerSource: 4,
      loginGraceMs: 500,
      trustedProxies: ['10.0.0.5'],
      minUploadRate: 0,
      maxStartupsPerSource: 2,
      logRate: 3,
    });
    expect(() => parseArgs(['--trusted-proxy', '10.0.0.0/33'], {}, '/w', file('1'))).toThrow(
      /--trusted-proxy/,
    );
  });

  it('warns and uses 1256 when port.info is missing or not a number', () => {
    const missing = parseArgs([], {}, '/w', noFile);
    expect(missing.config.port).toBe(DEFAULT_SERVER_PORT);
    expect(missing.warnings).toHaveLength(1);
    const junk = parseArgs([], {}, '/w', file('abc'));
    expect(junk.config.port).toBe(DEFAULT_SERVER_PORT);
    expect(junk.warnings).toHaveLength(1);
  });

  it('accepts port 0, sizes with units, seconds, and the data folder relative to cwd', () => {
    const r = parseArgs(
      [
        '--port',
        '0',
        '--max-payload',
        '1M',
        '--max-file-size',
        '2G',
        '--idle-timeout',
        '0.5',
        '--data',
        'd',
        '--max-connections',
        '3',
      ],
      {},
      '/w',
      noFile,
    );
    expect(r.config).toMatchObject({
      port: 0,
      maxPayload: 1 << 20,
      maxFileSize: 2 ** 31,
      idleTimeoutMs: 500,
      dataDir: '/w/d',
      maxConnections: 3,
    });
    expect(r.warnings).toEqual([]);
  });

  it.each([
    [['--port', '70000']],
    [['--port']],
    [['--bogus']],
    [['--max-payload', '12 parsecs']],
    [['--idle-timeout', '-1']],
    [['--max-connections', '0']],
  ])('refuses %j with SERVER_ERR_BAD_ARGUMENT', (argv) => {
    expect(() => parseArgs(argv, {}, '/w', noFile)).toThrow(
      expect.objectContaining({ code: 'SERVER_ERR_BAD_ARGUMENT' }),
    );
  });

  it('info and help commands', () => {
    expect(parseArgs(['info', '--data', 'x'], {}, '/w', noFile)).toMatchObject({
      command: 'info',
      warnings: [],
    });
    expect(parseArgs(['--help'], {}, '/w', noFile).command).toBe('help');
    for (const flag of [
      '--host',
      '--port',
      '--data',
      '--max-payload',
      '--max-file-size',
      '--max-connections',
      '--idle-timeout',
    ]) {
      expect(helpText()).toContain(flag);
    }
  });

  it('parseSize', () => {
    expect(parseSize('64K', 'x', 0, 1e12)).toBe(65536);
    expect(parseSize('16MiB', 'x', 0, 1e12)).toBe(16 << 20);
  });
});

describe('limits against hostile peers (issue 14)', () => {
  it('defaults, flags and SFT_* variables', () => {
    const d = parseArgs([], {}, '/w', file('1')).config;
    expect(d).toMatchObject({
      reconnectPerMinute: 30,
      clientDecryptFailuresPerHour: 10,
      registerPerMinute: 60,
      maxClients: 100_000,
      walLimit: 64 * 1024 * 1024,
    });
    const r = parseArgs(
      ['--reconnect-per-minute', '5', '--register-per-minute=7', '--wal-limit', '8M'],
      { SFT_MAX_CLIENTS: '9', SFT_CLIENT_DECRYPT_FAILURES_PER_HOUR: '3', SFT_REGISTER_PER_MINUTE: '99' },
      '/w',
      file('1'),
    ).config;
    expect(r).toMatchObject({
      reconnectPerMinute: 5,
      registerPerMinute: 7,
      walLimit: 8 * 1024 * 1024,
      maxClients: 9,
      clientDecryptFailuresPerHour: 3,
    });
    expect(() => parseArgs(['--max-clients', '0'], {}, '/w', file('1'))).toThrow(/out of range/);
    expect(() => parseArgs(['--wal-limit', '1K'], {}, '/w', file('1'))).toThrow(/out of range/);
    for (const flag of ['--reconnect-per-minute', '--register-per-minute', '--max-clients', '--wal-limit']) {
      expect(helpText()).toContain(flag);
    }
  });
});

describe('--direct-writes', () => {
  it('on by default; off by flag or SFT_DIRECT_WRITES; anything else is refused', () => {
    expect(parseArgs([], {}, '/w', file('1')).config.directWrites).toBe(true);
    expect(parseArgs(['--direct-writes', 'off'], {}, '/w', file('1')).config.directWrites).toBe(false);
    expect(parseArgs([], { SFT_DIRECT_WRITES: 'off' }, '/w', file('1')).config.directWrites).toBe(false);
    expect(() => parseArgs(['--direct-writes', 'maybe'], {}, '/w', file('1'))).toThrow(/direct-writes/);
  });
});

describe('limits that can be off: 0 or off, from a flag or a variable', () => {
  const config = (argv: string[], env: Record<string, string> = {}) =>
    parseArgs(argv, env, '/w', file('1')).config;

  it('lift the stored-data limits, also one set in the environment, and mean none for the floors', () => {
    const env = { SFT_MAX_TOTAL_BYTES: '1T', SFT_CLIENT_MAX_BYTES: '1G', SFT_CLIENT_MAX_FILES: '9' };
    expect(config([], env)).toMatchObject({
      maxTotalBytes: 1024 ** 4,
      clientMaxBytes: 1024 ** 3,
      clientMaxFiles: 9,
    });
    for (const word of ['0', 'off', 'OFF'])
      expect(
        config(
          [
            ...['--max-total-bytes', word, '--client-max-bytes', word, '--client-max-files', word],
            ...['--disk-reserve', word, '--min-upload-rate', word],
          ],
          env,
        ),
      ).toMatchObject({
        maxTotalBytes: null,
        clientMaxBytes: null,
        clientMaxFiles: null,
        diskReserve: 0,
        minUploadRate: 0,
      });
    expect(config([], { SFT_MAX_TOTAL_BYTES: 'off', SFT_DISK_RESERVE: 'off' })).toMatchObject({
      maxTotalBytes: null,
      diskReserve: 0,
    });
  });

  it('a bad value names the flag and what it takes; a limit that cannot be off says so', () => {
    expect(() => config(['--max-total-bytes', 'none'])).toThrow(
      /^--max-total-bytes "none" is not a size .*; 0 or off turns it off\.$/,
    );
    expect(() => config([], { SFT_CLIENT_MAX_FILES: '-1' })).toThrow(/^SFT_CLIENT_MAX_FILES .*0 or off/);
    expect(() => config(['--max-connections', 'off'])).toThrow(
      /^--max-connections cannot be turned off; give a whole number 1\.\.100000\.$/,
    );
    // 0 took empty files only; the family reads 0 as off, which this one cannot be.
    expect(() => config(['--max-file-size', '0'])).toThrow(/^--max-file-size 0 is out of range 1\.\./);
    expect(() => config(['--max-file-size-v4', 'off'])).toThrow(/^--max-file-size-v4 cannot be turned off/);
  });

  it('--max-file-size-v4 goes up to what one STREAM carries (2^32 records, 1 PiB), not to 2^53 - 1', () => {
    // Past it an UploadStart got through to the record opener, which threw once the upload
    // was opened and reserved: a fatal Error, its reservation and data file left behind.
    expect(config(['--max-file-size-v4', '1048576G']).v4MaxFileSize).toBe(2 ** 50);
    expect(() => config(['--max-file-size-v4', String(2 ** 50 + 1)])).toThrow(
      /^--max-file-size-v4 1125899906842625 is out of range 1\.\.1125899906842624 bytes\.$/,
    );
    expect(() => config(['--max-file-size-v4', String(Number.MAX_SAFE_INTEGER)])).toThrow(/out of range/);
  });
});

describe('access and quotas (issue 15)', () => {
  it('defaults, flags and SFT_* variables', () => {
    const d = parseArgs([], {}, '/w', file('1')).config;
    expect(d).toMatchObject({
      access: 'open',
      tcpAllow: ['127.0.0.0/8', '::1/128'],
      publicUrl: 'http://localhost:3000/',
      maxTotalBytes: null,
      diskReserve: null,
      clientMaxBytes: null,
      clientMaxFiles: null,
    });
    const r = parseArgs(
      ['--tcp-allow', '10.0.0.0/8,127.0.0.1', '--max-total-bytes', '2T', '--disk-reserve', '0'],
      {
        SFT_ACCESS: 'invite',
        SFT_PUBLIC_URL: 'https://files.example.org',
        SFT_CLIENT_MAX_BYTES: '1G',
        SFT_CLIENT_MAX_FILES: '5',
      },
      '/w',
      file('1'),
    ).config;
    expect(r).toMatchObject({
      access: 'invite',
      tcpAllow: ['10.0.0.0/8', '127.0.0.1'],
      publicUrl: 'https://files.example.org/',
      maxTotalBytes: 2 * 1024 ** 4,
      diskReserve: 0,
      clientMaxBytes: 1024 ** 3,
      clientMaxFiles: 5,
    });
    expect(() => parseArgs(['--public-url', 'ftp://x'], {}, '/w', file('1'))).toThrow(/public-url/);
    expect(() => parseArgs(['--tcp-allow', 'nope'], {}, '/w', file('1'))).toThrow(/tcp-allow/);
    for (const flag of [
      '--access',
      '--tcp-allow',
      '--public-url',
      '--max-total-bytes',
      '--disk-reserve',
      '--client-max-bytes',
      '--client-max-files',
    ]) {
      expect(helpText()).toContain(flag);
    }
  });
});
