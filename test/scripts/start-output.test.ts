import { describe, expect, it } from 'vitest';
import { createSay, partLineFields, stoppingText } from '../../scripts/start-output';

describe("npm start's own output", () => {
  it('piped (json): every line is one JSON object with part "start", the sentence as msg and the fields', () => {
    const lines: string[] = [];
    const say = createSay(
      'json',
      (l) => lines.push(l),
      () => new Date('2026-12-01T00:00:00Z'),
    );
    say('sftransfer is running\n  Open http://localhost:3000/', {
      event: 'ready',
      page: 'http://localhost:3000/',
    });
    say('bridge is running again (127.0.0.1:8080).', { event: 'restarted', from: 'bridge' });
    const text = lines.join('');
    const parsed = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ part: 'start', event: 'ready', page: 'http://localhost:3000/' });
    expect(parsed[0]!.msg).toContain('sftransfer is running');
    expect(parsed[1]).toMatchObject({ part: 'start', event: 'restarted', from: 'bridge' });
  });

  it('on a terminal (pretty): the sentence as it is', () => {
    const lines: string[] = [];
    createSay('pretty', (l) => lines.push(l))('Stopping (Ctrl-C again to stop at once)...', { event: 'x' });
    expect(lines).toEqual(['Stopping (Ctrl-C again to stop at once)...\n']);
  });

  it("piped: a part's `error:` line is level error, `warning:` warn, any other info; the part named", () => {
    const lines: string[] = [];
    const say = createSay('json', (l) => lines.push(l));
    const refusal =
      'error: another server (PID 6208) is using the data folder /srv/data. Stop it first, or give this one a folder of its own with --data (SFT_DATA for npm start).';
    say(refusal, partLineFields('server', refusal));
    say('warning: BRIDGE_MAX_CONNECTIONS is an old name', partLineFields('bridge', 'warning: BRIDGE_...'));
    say('SIGTERM: shutting down', partLineFields('server', 'SIGTERM: shutting down'));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0]).toMatchObject({ level: 'error', part: 'start', from: 'server', msg: refusal });
    expect(parsed[1]).toMatchObject({ level: 'warn', from: 'bridge' });
    expect(parsed[2]).toMatchObject({ level: 'info', from: 'server' });
  });

  it('the stopping sentence names what a second signal does: Ctrl-C for SIGINT, SIGTERM for SIGTERM', () => {
    expect(stoppingText('SIGINT')).toBe('Stopping (Ctrl-C again to stop at once)...');
    expect(stoppingText('SIGTERM')).toBe(
      'Stopping on SIGTERM (a second SIGTERM, or Ctrl-C, stops at once)...',
    );
    expect(stoppingText('SIGTERM')).not.toContain('again');
  });
});
