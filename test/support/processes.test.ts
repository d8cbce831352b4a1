/** The spawn helper itself: the listening event, stop by PID, an early exit. */
import { describe, expect, it } from 'vitest';
import { alive, spawnPart } from './processes';

describe('spawnPart', () => {
  it('learns host and port from the listening event and stops the process it started', async () => {
    const b = await spawnPart('bridge', ['--listen', '127.0.0.1:0', '--target', '127.0.0.1:1']);
    expect(b.host).toBe('127.0.0.1');
    expect(b.port).toBeGreaterThan(0);
    expect(b.lines.find((l) => l.event === 'listening')).toMatchObject({ port: b.port, part: 'bridge' });
    expect(alive(b.pid)).toBe(true);
    // Signalled right after the line: the handlers are already there, so it exits cleanly.
    expect(await b.stop()).toBe(0);
    expect(alive(b.pid)).toBe(false);
  });

  it('rejects with the output when the program exits before listening', async () => {
    await expect(spawnPart('server', ['--port', 'nope'])).rejects.toThrow(
      /--port "nope" is not a port number/,
    );
  });
});
