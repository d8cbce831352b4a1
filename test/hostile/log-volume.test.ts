/**
 * Issue 14 item 12 against the real server process: log volume is the peer's to choose (78 MB
 * in 60 s from one peer before). A peer pipelining bad requests for a bounded time gets a
 * bounded number of log lines plus `log-suppressed` summaries counting the rest, while another
 * peer's lines are all there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, RequestCode } from '../../lib/protocol';
import {
  randomName,
  register,
  type ServerProcess,
  sleep,
  startServerProcess,
  tcpConn,
  until,
} from '../support/hostile';

const LOG_RATE = 10;
let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess(['--log-rate', String(LOG_RATE)]);
});

afterAll(async () => {
  await srv?.dispose();
});

const linesOf = (address: string) =>
  srv.spawned.lines.filter((l) => typeof l.peer === 'string' && String(l.peer).startsWith(`${address}:`));

describe('log volume', () => {
  it('20,000 bad 1029s from 127.0.0.1 in about 3 s: at most burst + rate x time lines and a summary; every line of 127.0.0.2 is there', async () => {
    const attacker = await tcpConn(srv.port, '127.0.0.1');
    const bad = encodeRequest({
      code: RequestCode.CrcOk,
      clientId: new Uint8Array(16).fill(7),
      fileName: 'x',
    });
    const batch = Buffer.concat(Array.from({ length: 500 }, () => bad));
    const t0 = Date.now();
    const honest = (async () => {
      const c = await tcpConn(srv.port, '127.0.0.2');
      for (let i = 0; i < 5; i++) await register(c, randomName(`honest-${i}`));
      c.close();
    })();
    for (let i = 0; i < 40; i++) await attacker.raw.send(batch);
    let answers = 0;
    while (answers < 20_000 && (await attacker.next(10_000))) answers++;
    const seconds = (Date.now() - t0) / 1000;
    await honest;
    attacker.close();
    await until(
      () => srv.spawned.lines.some((l) => l.event === 'log-suppressed' && l.source === '127.0.0.1'),
      'a log-suppressed summary',
      10_000,
    );
    await sleep(200);
    const kept = linesOf('127.0.0.1').length;
    const dropped = srv.spawned.lines
      .filter((l) => l.event === 'log-suppressed' && l.source === '127.0.0.1')
      .reduce((n, l) => n + Number(l.dropped), 0);
    console.log(
      `${answers} bad requests in ${seconds.toFixed(1)} s: ${kept} lines written, ${dropped} counted in log-suppressed`,
    );
    expect(answers).toBe(20_000);
    // Burst of 5 s at the rate, then the rate (plus the connection's own lines).
    expect(kept).toBeLessThanOrEqual(LOG_RATE * 5 + LOG_RATE * Math.ceil(seconds) + 5);
    expect(kept + dropped).toBeGreaterThanOrEqual(20_000);
    // The honest peer: 5 x (1025 + 1026) = 10 lines, all written.
    expect(linesOf('127.0.0.2').filter((l) => l.code === 1025 || l.code === 1026).length).toBe(10);
  }, 60_000);
});
