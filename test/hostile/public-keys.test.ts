/**
 * Issue 14, item 10: public keys whose modulus cannot be an RSA modulus (prime, a small
 * factor, even) sent in a 1026 to the real server process. Each gets 1607 like any other
 * bad public key, is logged as the client error SERVER_ERR_BAD_PUBLIC_KEY (never an internal
 * error), stores nothing, and the same client then sends a real key and is accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_CLIENT_ID, encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import { badModuli, realSpki, spkiWithModulus } from '../support/bad-rsa-keys';
import {
  expectCode,
  openDb,
  randomName,
  rsaKeys,
  type ServerProcess,
  serverLog,
  startServerProcess,
  tcpConn,
  until,
  unwrapKey,
} from '../support/hostile';

let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess();
});
afterAll(async () => {
  await srv?.dispose();
});

/** The server's JSON log lines so far. */
const logLines = () => serverLog(srv);

describe('received public keys with an impossible modulus', () => {
  const real = realSpki();
  const cases = badModuli(real);

  it(`${cases.length} bad moduli in 1026 (prime, divisible by 3, 2^1023+1, even, divisible by 1999): 1607, logged SERVER_ERR_BAD_PUBLIC_KEY, the client then registers its real key`, async () => {
    const conn = await tcpConn(srv.port);
    for (const { what, n } of cases) {
      const name = randomName('badkey');
      const r1 = await expectCode(
        conn,
        encodeRequest({ code: RequestCode.Register, clientId: EMPTY_CLIENT_ID, name }),
        ResponseCode.Registered,
      );
      if (r1.code !== ResponseCode.Registered) throw new Error('unreachable');
      const bad = spkiWithModulus(real, n);
      const refused = await expectCode(
        conn,
        encodeRequest({ code: RequestCode.SendPublicKey, clientId: r1.clientId, name, publicKey: bad }),
        ResponseCode.ServerError,
      );
      expect(refused.code, what).toBe(ResponseCode.ServerError);
      // Nothing was stored: the same client sends its real key and gets a key it can unwrap.
      const keys = rsaKeys();
      const ok = await expectCode(
        conn,
        encodeRequest({ code: RequestCode.SendPublicKey, clientId: r1.clientId, name, publicKey: keys.spki }),
        ResponseCode.PublicKeyAccepted,
      );
      if (ok.code !== ResponseCode.PublicKeyAccepted) throw new Error('unreachable');
      expect(unwrapKey(keys, ok.encryptedKey)).toHaveLength(32);
    }
    conn.close();

    // One client-error line per bad key, none internal.
    const refusedLines = () =>
      logLines().filter((l) => l.code === RequestCode.SendPublicKey && l.error !== undefined);
    await until(() => refusedLines().length >= cases.length, 'the log lines of the refused 1026s');
    const errors = refusedLines().map((l) => l.error);
    console.log(`logged errors of ${cases.length} bad keys: ${[...new Set(errors)].join(', ')}`);
    expect(errors).toEqual(cases.map(() => 'SERVER_ERR_BAD_PUBLIC_KEY'));
    expect(srv.output()).not.toMatch(/"error":"SERVER_ERR_INTERNAL"|"event":"internal-error"/);

    // The database holds only real keys.
    const db = openDb(srv.data);
    try {
      const keys = db.prepare('SELECT PublicKey FROM clients WHERE PublicKey IS NOT NULL').all() as {
        PublicKey: Buffer;
      }[];
      for (const { n } of cases) {
        const bad = Buffer.from(spkiWithModulus(real, n));
        expect(keys.some((k) => k.PublicKey.equals(bad))).toBe(false);
      }
    } finally {
      db.close();
    }
  });
});
