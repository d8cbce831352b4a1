import { describe, expect, it } from 'vitest';
import { parseArgs, parseServerAddress, USAGE } from './args';
import { CliError } from './errors';
import { optionsNpmTook } from './invocation-folder';

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe('CLI_ERR_USAGE');
    return (e as CliError).message;
  }
  throw new Error('expected CLI_ERR_USAGE');
}

describe('parseArgs', () => {
  it('reads flags in both forms and collects files in order', () => {
    expect(parseArgs(['--server', 'h:1', '--name=bob', 'a', '--dir', 'd', 'b'])).toEqual({
      help: false,
      json: false,
      server: 'h:1',
      name: 'bob',
      dir: 'd',
      files: ['a', 'b'],
      timeoutMs: 120_000,
    });
  });
  it('--timeout takes seconds (or a unit), above 0 and up to an hour', () => {
    expect(parseArgs(['--timeout', '5', 'a']).timeoutMs).toBe(5000);
    expect(parseArgs(['--timeout', '500ms', 'a']).timeoutMs).toBe(500);
    expect(usageError(() => parseArgs(['--timeout', '0', 'a']))).toContain('--timeout "0" is not a duration');
    expect(usageError(() => parseArgs(['--timeout', '2h', 'a']))).toContain('up to 3600 seconds');
  });
  it('--json asks for JSON lines', () => {
    expect(parseArgs(['--json', 'a']).json).toBe(true);
  });
  it('treats everything after -- as files', () => {
    expect(parseArgs(['--', '--name', '-x']).files).toEqual(['--name', '-x']);
  });
  it('knows --help and -h', () => {
    expect(parseArgs(['-h']).help).toBe(true);
    expect(parseArgs(['--help']).help).toBe(true);
  });
  it('rejects unknown options and missing values', () => {
    expect(usageError(() => parseArgs(['--port', '1']))).toContain('Unknown option --port');
    expect(usageError(() => parseArgs(['--name']))).toContain('--name needs a value');
    expect(usageError(() => parseArgs(['--dir=']))).toContain('--dir needs a value');
  });
});

describe('USAGE', () => {
  it("states each protocol's rule for --name (protocol 4 takes UTF-8, protocol 3 only ASCII)", () => {
    const text = USAGE.replace(/\s+/g, ' ');
    expect(text).toContain('Protocol 4: 1 to 100 bytes of UTF-8 (any language), no control characters;');
    expect(text).toContain(
      'protocol 3 (also when auto falls back to it): printable ASCII (space to ~), 1 to 100 characters',
    );
    expect(text).not.toContain('ASCII, at most 100 characters');
  });
});

describe('parseServerAddress', () => {
  it('parses host:port and [ipv6]:port', () => {
    expect(parseServerAddress('127.0.0.1:1256')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1256 });
    expect(parseServerAddress('files.example:9')).toEqual({ kind: 'tcp', host: 'files.example', port: 9 });
    expect(parseServerAddress('[::1]:80')).toEqual({ kind: 'tcp', host: '::1', port: 80 });
    expect(parseServerAddress('files.example')).toEqual({ kind: 'tcp', host: 'files.example', port: 1256 });
  });
  it('routes ws:// and wss:// URLs to the bridge transport', () => {
    expect(parseServerAddress('ws://localhost:8080/ws')).toEqual({
      kind: 'ws',
      url: 'ws://localhost:8080/ws',
    });
    expect(parseServerAddress('WSS://h/x').kind).toBe('ws');
  });
  it('rejects what is neither', () => {
    for (const bad of ['host:', ':80', 'h:0', 'h:65536', '::1:80', 'h:80x', 'http://h:1']) {
      expect(usageError(() => parseServerAddress(bad))).toContain('--server');
    }
  });
});

describe('optionsNpmTook', () => {
  const npm = { npm_lifecycle_event: 'client' };
  it('names the options npm kept as npm_config_* that the client did not get', () => {
    const env = { ...npm, npm_config_server: '', npm_config_name: 'carol', npm_config_json: 'true' };
    expect(optionsNpmTook(env, {})).toEqual(['--server', '--name']);
    expect(optionsNpmTook(env, { server: 'h:1' })).toEqual(['--name']);
  });
  it('says nothing unless npm ran this very script', () => {
    expect(optionsNpmTook({ npm_config_server: 'x' }, {})).toEqual([]);
    expect(optionsNpmTook({ npm_lifecycle_event: 'test', npm_config_server: 'x' }, {})).toEqual([]);
  });
});
