/**
 * Account takeover through 1026 (found by this suite, fixed in server/client-handlers.ts):
 * a public key on file is never replaced by a 1026 carrying another key.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  expectCode,
  fileRows,
  hex,
  randomName,
  reconnect,
  register,
  type ServerProcess,
  startServerProcess,
  tcpConn,
  upload,
} from '../support/hostile';
import { makeRsaKeys } from '../support/server-helpers';

let srv: ServerProcess;

describe('1026 key takeover', () => {
  beforeAll(async () => {
    srv = await startServerProcess();
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  it("1026 with a client's own ID and name from a stranger must not replace the public key on file (account takeover)", async () => {
    // Both the client ID and the name travel in the clear in every 1026/1027. Were a 1026 to
    // replace the key, anyone who saw them would get an AES key they can unwrap, upload as that
    // client (replacing its files by name), and lock the real client out.
    const c = await tcpConn(srv.port);
    const alice = await register(c, randomName('alice'));
    c.close();

    const m = await tcpConn(srv.port);
    const strangerKeys = makeRsaKeys();
    await expectCode(
      m,
      encodeRequest({
        code: RequestCode.SendPublicKey,
        clientId: alice.clientId,
        name: alice.name,
        publicKey: strangerKeys.spki,
      }),
      ResponseCode.ServerError,
    );
    m.close();

    // alice is unaffected: she reconnects with her own key and uploads.
    const a = await tcpConn(srv.port);
    const again = await reconnect(a, alice);
    expect((await upload(a, again, 'mine.bin', randomBytes(100)))?.code).toBe(ResponseCode.FileReceived);
    a.close();
    expect(
      fileRows(srv.data)
        .filter((r) => hex(r.ID) === hex(alice.clientId))
        .map((r) => r.FileName),
    ).toEqual(['mine.bin']);
  });
});
