/**
 * One connection streaming a large upload must not hold the server: another client's
 * small request is answered (correctly) while that upload is still in progress, and the
 * upload completes intact.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, type Response, ResponseCode } from '../../lib/protocol';
import {
  type InProcessServer,
  RawClient,
  registerAndExchange,
  sendFile,
  startServer,
} from '../support/server-helpers';

describe('fairness between connections', () => {
  let srv: InProcessServer;
  beforeAll(async () => {
    srv = await startServer();
  });
  afterAll(async () => {
    await srv.stop();
  });

  it("a new client's 1025 is answered while another connection streams 48 MiB", async () => {
    const a = await RawClient.connect(srv.port);
    const id = await registerAndExchange(a, 'fair-uploader');
    const data = randomBytes(48 * 1024 * 1024);
    const events: string[] = [];
    const upload = sendFile(a, id, { fileName: 'big.bin', data }).then(async () => {
      const r = await a.next();
      events.push('upload answered');
      return r;
    });
    const b = await RawClient.connect(srv.port);
    const reg = await b.request(
      encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name: 'fair-newcomer' }),
    );
    events.push('register answered');
    expect(reg?.code).toBe(ResponseCode.Registered);
    const done = (await upload) as Extract<Response, { code: typeof ResponseCode.FileReceived }>;
    expect(done.code).toBe(ResponseCode.FileReceived);
    expect(done.cksum).toBe(cksum(data));
    expect(events).toEqual(['register answered', 'upload answered']);
    a.close();
    b.close();
  });
});
