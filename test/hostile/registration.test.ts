/**
 * Issue 14, item 3: unbounded registration. Any peer registered names as fast as the server
 * answered, and the rows are permanent. Now 1025s are rate-limited per source address and the
 * clients table has a cap, both answered 1601 with the reason in the log; and 1029/1030/1031
 * that fail their checks write nothing (LastSeen included).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  EVERY_LOG_LINE,
  randomName,
  register,
  type ServerProcess,
  serverLog,
  sleep,
  startServerProcess,
  tcpConn,
  until,
} from '../support/hostile';
import { queryDb } from '../support/server-state';

const PER_MINUTE = 5;
const MAX_CLIENTS = 8;

let srv: ServerProcess;

const reasons = () =>
  serverLog(srv)
    .filter((l) => l.code === RequestCode.Register && l.error)
    .map((l) => l.error);

describe('registration limits', () => {
  beforeAll(async () => {
    srv = await startServerProcess([
      '--register-per-minute',
      String(PER_MINUTE),
      '--max-clients',
      String(MAX_CLIENTS),
      ...EVERY_LOG_LINE,
    ]);
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  async function flood(source: string, count: number): Promise<number> {
    const c = await tcpConn(srv.port, source);
    const frames = Array.from({ length: count }, () =>
      encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: randomName('reg') }),
    );
    await c.raw.send(Buffer.concat(frames));
    let ok = 0;
    for (let i = 0; i < count; i++) if ((await c.next())?.code === ResponseCode.Registered) ok++;
    c.close();
    return ok;
  }

  it(`100 pipelined 1025s from one source: ${PER_MINUTE} registered, the rest 1601 (rate); another source fills the cap of ${MAX_CLIENTS}; then 1601 (cap) for everyone`, async () => {
    const first = await flood('127.0.0.1', 100);
    console.log(`one source: ${first} of 100 registrations accepted (limit ${PER_MINUTE}/min)`);
    expect(first).toBe(PER_MINUTE);
    await until(
      () => reasons().filter((r) => r === 'REGISTER_RATE_LIMITED').length === 100 - PER_MINUTE,
      'a REGISTER_RATE_LIMITED line per refused 1025',
    );
    const second = await flood('127.0.0.2', 10);
    expect(second).toBe(MAX_CLIENTS - PER_MINUTE);
    expect(await flood('127.0.0.3', 3)).toBe(0);
    // Source 2: 5 tokens, 3 registered and 2 over the cap; source 3: all 3 over the cap.
    await until(() => reasons().filter((r) => r === 'MAX_CLIENTS').length >= 5, 'five MAX_CLIENTS lines');
    const rows = queryDb<{ n: number }>(srv.data, 'SELECT count(*) AS n FROM clients');
    console.log(`clients after 113 attempts from 3 sources: ${rows[0]!.n} (cap ${MAX_CLIENTS})`);
    expect(rows[0]!.n).toBe(MAX_CLIENTS);
  });

  it('1029/1030/1031 that fail their checks leave LastSeen alone', async () => {
    // A fresh server: the cap above is reached.
    await srv.dispose();
    srv = await startServerProcess();
    const c = await tcpConn(srv.port);
    const me = await register(c, randomName('seen'));
    const lastSeen = () =>
      queryDb<{ LastSeen: string }>(
        srv.data,
        'SELECT LastSeen FROM clients WHERE ID = ?',
        Buffer.from(me.clientId),
      )[0]!.LastSeen;
    const before = lastSeen();
    await sleep(20);
    for (const code of [RequestCode.CrcOk, RequestCode.CrcRetry, RequestCode.CrcAbort] as const) {
      await c.sendFrame(encodeRequest({ code, clientId: me.clientId, fileName: 'never-sent.bin' }));
    }
    // 1029 and 1031 are answered 1607, 1030 not at all; a 1027 marks the end.
    await c.sendFrame(
      encodeRequest({ code: RequestCode.Reconnect, clientId: new Uint8Array(16), name: 'nobody' }),
    );
    const answers = [(await c.next())?.code, (await c.next())?.code, (await c.next())?.code];
    expect(answers).toEqual([
      ResponseCode.ServerError,
      ResponseCode.ServerError,
      ResponseCode.ReconnectRejected,
    ]);
    expect(lastSeen()).toBe(before);
    c.close();
  });
});
