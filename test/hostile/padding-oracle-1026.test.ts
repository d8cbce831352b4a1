/**
 * The padding oracle through 1026 (found by a review, fixed in server/client-handlers.ts).
 * The public key travels in the clear in the registration's 1026, beside the name and the
 * client ID, and a 1026 that sends the key already on file again is answered 1602 with a
 * fresh AES key wrapped for the owner: a 1027 by another name. 1027s cost the source tokens
 * (padding-oracle.test.ts), 1026s did not, so a stranger who saw one registration queried
 * the oracle as fast as the server answered: one 1026 and one crafted 1028 per query,
 * pipelined. Now a 1026 for a client with a key on file is charged as a 1027 is.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest, RequestCode, ResponseCode } from '../../lib/protocol';
import {
  type Client,
  EVERY_LOG_LINE,
  fileRows,
  hex,
  paddingQuery,
  randomName,
  register,
  type ServerProcess,
  serverLog,
  sha256,
  startServerProcess,
  tcpConn,
  until,
  uploadVerified,
} from '../support/hostile';

/** A small per-source budget so the test sees it run out: burst 6, penalty 3 per failed decrypt. */
const RECONNECTS_PER_MINUTE = 6;
/** Oracle queries the attacker pipelines, each a 1026 and a 1028. */
const QUERIES = 64;

let srv: ServerProcess;
let victim: Client;
const report = Buffer.from('quarterly figures: all good\n');

describe('padding oracle through 1026 (the key on file sent again)', () => {
  beforeAll(async () => {
    srv = await startServerProcess([
      '--reconnect-per-minute',
      String(RECONNECTS_PER_MINUTE),
      ...EVERY_LOG_LINE,
    ]);
    // The owner lives at 127.0.0.2; the attacker at 127.0.0.1.
    const own = await tcpConn(srv.port, '127.0.0.2');
    victim = await register(own, randomName('victim'));
    await uploadVerified(own, victim, 'report.txt', report);
    own.close();
  });
  afterAll(async () => {
    await srv?.dispose();
  });

  it(`${QUERIES} pipelined 1026 + 1028 pairs with the victim's name, ID and public key from one source: 2 keys (the 1027 budget), not one per 1026`, async () => {
    const m = await tcpConn(srv.port);
    const resend = encodeRequest({
      code: RequestCode.SendPublicKey,
      clientId: victim.clientId,
      name: victim.name,
      publicKey: victim.keys.spki,
    });
    const c2 = randomBytes(16);
    const frames: Uint8Array[] = [];
    for (let g = 0; g < QUERIES; g++) {
      const c1 = randomBytes(16);
      c1[15] = g;
      frames.push(resend, paddingQuery(victim, Buffer.concat([c1, c2])));
    }
    await m.raw.send(Buffer.concat(frames));
    const answers: number[] = [];
    for (let i = 0; i < frames.length; i++) answers.push((await m.next())?.code ?? -1);
    m.close();
    const keys = answers.filter((a) => a === ResponseCode.PublicKeyAccepted).length;
    const fileErrors = () =>
      serverLog(srv)
        .filter((l) => l.code === RequestCode.SendFile && l.error)
        .map((l) => l.error);
    const accepted = answers.filter((a) => a === ResponseCode.FileReceived).length;
    await until(() => fileErrors().length >= QUERIES - accepted, 'a log line per refused query');
    const decrypted = fileErrors().filter((e) => e === 'SERVER_ERR_UPLOAD_PADDING').length;
    console.log(
      `oracle through 1026: ${QUERIES} queries -> ${keys} keys, ${decrypted} decrypted, ${accepted} accepted`,
    );
    // Burst 6, and each failed decrypt costs 3 more: the first key's failure leaves 2 tokens,
    // so 2 keys (3 when a query happens to decrypt to valid padding, about 1 in 256: no penalty).
    expect(keys).toBeLessThanOrEqual(3);
    expect(decrypted + accepted).toBeLessThanOrEqual(3);
    const limited = serverLog(srv).filter(
      (l) => l.code === RequestCode.SendPublicKey && l.error === 'RECONNECT_RATE_LIMITED',
    );
    expect(limited.length).toBeGreaterThanOrEqual(QUERIES - 3);
  });

  it('the owner reconnects from 127.0.0.2 and its report is intact', async () => {
    const own = await tcpConn(srv.port, '127.0.0.2');
    await own.sendFrame(
      encodeRequest({ code: RequestCode.Reconnect, clientId: victim.clientId, name: victim.name }),
    );
    expect((await own.next())?.code).toBe(ResponseCode.Reconnected);
    own.close();
    const row = fileRows(srv.data).find(
      (x) => hex(x.ID) === hex(victim.clientId) && x.FileName === 'report.txt',
    );
    expect(row?.Verified).toBe(1);
    expect(sha256(readFileSync(join(srv.data, 'files', row!.PathName)))).toBe(sha256(report));
  });
});
