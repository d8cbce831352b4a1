import { describe, expect, it } from 'vitest';
import { defaultAccessMode, isLoopbackHost, parseAccessMode } from './access';

describe('access mode default', () => {
  it('is open only while every host is loopback', () => {
    expect(defaultAccessMode(['127.0.0.1', 'localhost', '[::1]', '127.1.2.3'])).toBe('open');
    expect(defaultAccessMode(['127.0.0.1', '0.0.0.0'])).toBe('invite');
    expect(defaultAccessMode(['::'])).toBe('invite');
    expect(defaultAccessMode(['files.example.org'])).toBe('invite');
    expect(defaultAccessMode(['192.168.1.5'])).toBe('invite');
    expect(defaultAccessMode(['127.0.0.1.example.org'])).toBe('invite');
  });
  it('parses the mode a person wrote', () => {
    expect(parseAccessMode(' Invite ')).toBe('invite');
    expect(parseAccessMode('open')).toBe('open');
    expect(parseAccessMode('closed')).toBeUndefined();
    expect(parseAccessMode(undefined)).toBeUndefined();
    expect(isLoopbackHost('::ffff:127.0.0.1')).toBe(true);
  });
});
