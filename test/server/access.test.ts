/**
 * Issue 15's access rules against real server processes on 127.0.0.0/8: the default mode
 * follows the listen address; `--tcp-allow` closes direct connections from other networks at
 * once (one sampled log line each), while relayed ones are judged by their invite only.
 */
import { describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode } from '../../lib/protocol';
import { parseArgs } from '../../server/config';
import { randomName, register, serverLog, startServerProcess, tcpConn, until } from '../support/hostile';
import { relayedConn } from '../support/invite-helpers';
import { spawnServer, tempDir } from '../support/server-helpers';

const noPortFile = () => {
  throw new Error('no port.info');
};

describe('the default access mode', () => {
  it('open while the listener is loopback, invite otherwise; --access and SFT_ACCESS override', () => {
    const mode = (argv: string[], env = {}) => parseArgs(argv, env, '/w', noPortFile).config.access;
    expect(mode([])).toBe('open');
    expect(mode(['--host', '127.0.0.2'])).toBe('open');
    expect(mode(['--host', '::1'])).toBe('open');
    expect(mode(['--host', 'localhost'])).toBe('open');
    expect(mode(['--host', '0.0.0.0'])).toBe('invite');
    expect(mode(['--host', '::'])).toBe('invite');
    expect(mode(['--host', '192.0.2.10'])).toBe('invite');
    expect(mode(['--host', '0.0.0.0', '--access', 'open'])).toBe('open');
    expect(mode([], { SFT_ACCESS: 'invite' })).toBe('invite');
    expect(() => mode(['--access', 'closed'])).toThrow(/open, invite/);
  });

  it('a server on 127.0.0.2 starts in open mode and says so in its listening line', async () => {
    const dir = tempDir('sft-access-');
    try {
      const s = await spawnServer(
        ['--port', '0', '--host', '127.0.0.2', '--data', `${dir.path}/data`],
        dir.path,
      );
      expect(s.event).toMatchObject({ host: '127.0.0.2', access: 'open' });
      expect(s.output()).not.toContain('access-open');
      await s.stop();
    } finally {
      dir.remove();
    }
  });
});

describe('--tcp-allow 127.0.0.1/32', () => {
  it('a direct connection from 127.0.0.2 is closed at once with a sampled log line; from 127.0.0.1 it is served; relayed ones from anywhere are served', async () => {
    const srv = await startServerProcess(['--tcp-allow', '127.0.0.1/32', '--log-rate', '1']);
    try {
      const t0 = Date.now();
      const outsider = await tcpConn(srv.port, '127.0.0.2');
      await outsider.sendFrame(
        encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: 'x' }),
      );
      expect(await outsider.next()).toBeNull();
      const closedAfter = Date.now() - t0;
      console.log(`direct connection from 127.0.0.2 closed after ${closedAfter} ms without an answer`);
      expect(closedAfter).toBeLessThan(1500);
      // Many more: the log keeps a sampled few (rate 1/s, burst 5), not one line each.
      for (let i = 0; i < 30; i++) {
        const c = await tcpConn(srv.port, '127.0.0.2');
        await c.sendFrame(
          encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: 'x' }),
        );
        await c.raw.closedPromise;
      }
      const lines = () => serverLog(srv).filter((l) => l.reason === 'tcp-allow');
      await until(() => lines().length >= 1, 'a tcp-allow line');
      console.log(`31 refused direct connections: ${lines().length} tcp-allow log lines`);
      expect(lines()[0]).toMatchObject({ event: 'connection-refused', source: '127.0.0.2' });
      expect(lines().length).toBeLessThanOrEqual(6);

      const insider = await tcpConn(srv.port, '127.0.0.1');
      await register(insider, randomName('inside'));
      insider.close();
      // Relayed by a trusted proxy (loopback) for a client of 203.0.113.7: open mode, no invite needed.
      const relayed = await relayedConn(srv.port, { source: '203.0.113.7', localAddress: '127.0.0.1' });
      await register(relayed, randomName('relayed'));
      relayed.close();
    } finally {
      await srv.dispose();
    }
  }, 30_000);
});
