import { describe, expect, it } from 'vitest';
import { flag, helpText, list, parseArgsOptions, parseOptions, value } from './options';
import {
  duration,
  hostPort,
  OptionError,
  oneOf,
  origin,
  port,
  positiveInteger,
  size,
  text,
} from './validators';

const TABLE = {
  port: value(port(), { arg: 'PORT', env: 'SFT_X_PORT', oldEnv: ['X_PORT'], help: 'the port' }),
  name: value(text, { arg: 'NAME', default: 'anon', help: 'a name' }),
  origin: list(origin, { arg: 'URL', env: 'SFT_X_ORIGINS', default: ['http://a.example'], help: 'origins' }),
  verbose: flag({ env: 'SFT_X_VERBOSE', help: 'more' }),
} as const;

function usage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OptionError);
    return (e as OptionError).message;
  }
  throw new Error('expected an OptionError');
}

describe('parseOptions', () => {
  it('defaults, then the environment, then flags', () => {
    expect(parseOptions(TABLE, []).values).toEqual({
      port: undefined,
      name: 'anon',
      origin: ['http://a.example'],
      verbose: false,
    });
    const env = {
      SFT_X_PORT: '10',
      SFT_X_ORIGINS: 'https://b.example/, https://c.example',
      SFT_X_VERBOSE: 'yes',
    };
    const fromEnv = parseOptions(TABLE, [], { env });
    expect(fromEnv.values).toMatchObject({
      port: 10,
      origin: ['https://b.example', 'https://c.example'],
      verbose: true,
    });
    expect(fromEnv.source).toEqual({ port: 'env', origin: 'env', verbose: 'env' });
    const fromFlags = parseOptions(TABLE, ['--port=11', '--origin', 'https://d.example', '--origin=*'], {
      env,
    });
    expect(fromFlags.values).toMatchObject({ port: 11, origin: ['https://d.example', '*'] });
    expect(fromFlags.source.port).toBe('flag');
  });

  it('reads an old variable name with a warning naming the new one; the new name wins', () => {
    const old = parseOptions(TABLE, [], { env: { X_PORT: '12' } });
    expect(old.values.port).toBe(12);
    expect(old.warnings).toEqual(['X_PORT is deprecated and will stop working; use SFT_X_PORT instead.']);
    const both = parseOptions(TABLE, [], { env: { X_PORT: '12', SFT_X_PORT: '13' } });
    expect(both.values.port).toBe(13);
    expect(both.warnings).toEqual([]);
  });

  it('names the flag or variable a bad value came from', () => {
    expect(usage(() => parseOptions(TABLE, ['--port', '70000']))).toContain('--port "70000"');
    expect(usage(() => parseOptions(TABLE, [], { env: { SFT_X_PORT: 'x' } }))).toContain('SFT_X_PORT');
  });

  it('words every command-line mistake as a sentence pointing to --help', () => {
    expect(usage(() => parseOptions(TABLE, ['--bogus']))).toBe(
      'Unknown option --bogus. Run with --help to see the options.',
    );
    expect(usage(() => parseOptions(TABLE, ['--name']))).toContain('Option --name needs a value (NAME).');
    expect(usage(() => parseOptions(TABLE, ['--name=']))).toContain('--name needs a value');
    expect(usage(() => parseOptions(TABLE, ['--verbose=1']))).toContain('--verbose takes no value');
    expect(usage(() => parseOptions(TABLE, ['stray']))).toContain('Unexpected argument "stray"');
  });

  it('positionals when allowed, -- ends options; --help and -h stop there', () => {
    expect(parseOptions(TABLE, ['a', '--', '--name'], { positionals: true }).positionals).toEqual([
      'a',
      '--name',
    ]);
    expect(parseOptions(TABLE, ['-h', '--bogus']).help).toBe(true);
    expect(parseOptions(TABLE, ['--help']).help).toBe(true);
  });

  it('wraps errors in the program type through fail', () => {
    class MyError extends Error {}
    expect(() => parseOptions(TABLE, ['--bogus'], { fail: (m) => new MyError(m) })).toThrow(MyError);
  });

  it('yields the parseArgs config and a help text with every flag and variable', () => {
    expect(parseArgsOptions(TABLE)).toEqual({
      port: { type: 'string' },
      name: { type: 'string' },
      origin: { type: 'string', multiple: true },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    const help = helpText(TABLE, { usage: 'Usage: x', footer: 'bye' });
    for (const s of [
      'Usage: x',
      '--port PORT',
      '[SFT_X_PORT]',
      '--origin URL',
      '[SFT_X_ORIGINS, comma-separated]',
      '-h, --help',
      'bye',
    ]) {
      expect(help).toContain(s);
    }
    for (const line of help.split('\n')) expect(line.length).toBeLessThanOrEqual(100);
  });
});

describe('validators', () => {
  it('hostPort: IPv4, names, [IPv6]; port required unless defaulted; bare IPv6 refused', () => {
    const hp = hostPort();
    expect(hp('127.0.0.1:0', 'x')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(hp('[::1]:80', 'x')).toEqual({ host: '::1', port: 80 });
    expect(hostPort({ defaultPort: 1256 })('files.example', 'x')).toEqual({
      host: 'files.example',
      port: 1256,
    });
    for (const bad of ['8080', ':1', 'h:65536', '::1:80', 'h:1x'])
      expect(() => hp(bad, 'x')).toThrow(OptionError);
    expect(() => hostPort({ minPort: 1 })('h:0', 'x')).toThrow(OptionError);
  });

  it('size, duration, integers, choices, origins', () => {
    expect(size(0, 2 ** 40)('64K', 'x')).toBe(65536);
    expect(size(0, 2 ** 40)('16MiB', 'x')).toBe(16 << 20);
    expect(() => size(100, 200)('1K', 'x')).toThrow(/out of range/);
    expect(duration()('1.5', 'x')).toBe(1500);
    expect(duration()('500ms', 'x')).toBe(500);
    expect(duration()('5m', 'x')).toBe(300_000);
    for (const bad of ['0', '-1', 'soon', '']) expect(() => duration()(bad, 'x')).toThrow(OptionError);
    expect(() => duration(10)('11', 'x')).toThrow(OptionError);
    expect(positiveInteger('3', 'x')).toBe(3);
    for (const bad of ['0', '1.5', '1e3']) expect(() => positiveInteger(bad, 'x')).toThrow(OptionError);
    expect(oneOf(['a', 'b'])('b', 'x')).toBe('b');
    expect(() => oneOf(['a', 'b'])('c', 'x')).toThrow(OptionError);
    expect(origin('https://files.example.org/', 'x')).toBe('https://files.example.org');
    expect(() => origin('not a url', 'x')).toThrow(OptionError);
  });
});
