/**
 * The server's log: pino lines with a `part`, a listening event to learn the port from, and
 * exactly one line per request outcome (a whole 1028 file is one), carrying the connection's
 * peer. Never key material.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientIdToHex, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type InProcessServer,
  RawClient,
  registerAndExchange,
  sendFile,
  startServer,
  waitFor,
} from '../support/server-helpers';

describe('server log', () => {
  let srv: InProcessServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await srv.stop();
  });
  const requests = () => srv.log.lines.filter((l) => 'code' in l);

  it('says where it listens, as an event', () => {
    expect(srv.log.lines.find((l) => l.event === 'listening')).toMatchObject({
      level: 'info',
      part: 'test',
      host: '127.0.0.1',
      port: srv.port,
    });
  });

  it('one line per request outcome, a whole file as one, with the peer and no key', async () => {
    const c = await RawClient.connect(srv.port);
    const id = await registerAndExchange(c, 'logged');
    const { packets } = await sendFile(c, id, {
      fileName: 'f.bin',
      data: randomBytes(50_000),
      packetSize: 4096,
    });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    // 1030 is not answered: the next answer is the 1029's.
    await c.send(encodeRequest({ code: RequestCode.CrcRetry, clientId: id.clientId, fileName: 'nothing' }));
    const thanks = await c.request(
      encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName: 'f.bin' }),
    );
    expect(thanks?.code).toBe(ResponseCode.Thanks);
    await waitFor(() => requests().length >= 5, 'five request lines');
    const lines = requests();
    // A prefix only: the full ID is half of a v3 credential (issue 14).
    const client = clientIdToHex(id.clientId).slice(0, 8);
    expect(lines.map((l) => [l.code, l.result])).toEqual([
      [RequestCode.Register, ResponseCode.Registered],
      [RequestCode.SendPublicKey, ResponseCode.PublicKeyAccepted],
      [RequestCode.SendFile, ResponseCode.FileReceived],
      [RequestCode.CrcRetry, null],
      [RequestCode.CrcOk, ResponseCode.Thanks],
    ]);
    expect(lines[2]).toMatchObject({ client, name: 'logged', file: 'f.bin', packets });
    expect(lines[2]!.bytes).toBeGreaterThan(50_000);
    expect(lines[3]).toMatchObject({ error: 'SERVER_ERR_NO_SUCH_FILE', file: 'nothing', level: 'warn' });
    for (const l of lines) {
      expect(l.peer).toMatch(/:\d+$/);
      expect(typeof l.ms).toBe('number');
    }
    const text = JSON.stringify(srv.log.lines);
    expect(text).not.toContain(clientIdToHex(id.clientId));
    expect(text).not.toContain(Buffer.from(id.aesKey).toString('hex'));
    expect(text).not.toContain(Buffer.from(id.aesKey).toString('base64'));
    c.close();
  });
});
