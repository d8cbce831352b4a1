/**
 * Issue 14, item 1: a CBC padding oracle under a key the attacker cannot unwrap. A stranger who
 * saw a victim's name and client ID sends 1027, gets a connection key wrapped for the victim,
 * and then learns from 1603 against 1607 whether crafted ciphertext decrypts to valid padding.
 * 16,384 such queries forged chosen content. Now a connection loses its key at the first 1028
 * that fails to decrypt, so each query costs a 1027, and 1027s are rate-limited per source
 * (with a penalty per failed decrypt) without touching the owner's own budget elsewhere.
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
  reconnect,
  register,
  type ServerProcess,
  serverLog,
  sha256,
  startServerProcess,
  tcpConn,
  until,
  uploadVerified,
  walk,
} from '../support/hostile';

/** A small per-source budget so the test sees it run out: burst 6, penalty 3 per failed decrypt. */
const RECONNECTS_PER_MINUTE = 6;

let srv: ServerProcess;
let victim: Client;
const report = Buffer.from('quarterly figures: all good\n');

/** The server's JSON log lines so far. */
const logLines = () => serverLog(srv);

describe('padding oracle through 1027 + 1028', () => {
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

  it('256 pipelined queries after one 1027: every answer after the first failure is 1607 without decrypting (key gone)', async () => {
    const m = await tcpConn(srv.port);
    // The stranger's 1027 with the victim's name and ID is answered: v3 cannot tell it apart.
    await m.sendFrame(
      encodeRequest({ code: RequestCode.Reconnect, clientId: victim.clientId, name: victim.name }),
    );
    expect((await m.next())?.code).toBe(ResponseCode.Reconnected);
    // The classic last-byte search: C1[15] over 0..255, C2 fixed. Without the fix exactly
    // the guesses that give padding 0x01 were answered 1603 (and stored the attacker's file).
    const c2 = randomBytes(16);
    const frames: Uint8Array[] = [];
    for (let g = 0; g < 256; g++) {
      const c1 = randomBytes(16);
      c1[15] = g;
      frames.push(paddingQuery(victim, Buffer.concat([c1, c2])));
    }
    await m.raw.send(Buffer.concat(frames));
    const answers: number[] = [];
    for (let i = 0; i < frames.length; i++) answers.push((await m.next())?.code ?? -1);
    m.close();
    const firstFailure = answers.indexOf(ResponseCode.ServerError);
    const accepted = answers.filter((a) => a === ResponseCode.FileReceived).length;
    // A random first query passes the padding check about once in 256: at most that one.
    expect(firstFailure).toBeLessThanOrEqual(1);
    expect(answers.slice(firstFailure)).toEqual(
      answers.slice(firstFailure).map(() => ResponseCode.ServerError),
    );
    const fileErrors = () =>
      logLines()
        .filter((l) => l.code === RequestCode.SendFile && l.error)
        .map((l) => l.error);
    // The answers may arrive before the server's last log lines have come through its pipe.
    await until(() => fileErrors().length >= frames.length - accepted, 'a log line per refused query');
    const errors = fileErrors();
    const decrypted = errors.filter((e) => e === 'SERVER_ERR_UPLOAD_PADDING').length;
    const noKey = errors.filter((e) => e === 'SERVER_ERR_NO_KEY').length;
    console.log(
      `oracle: ${frames.length} queries on one key -> ${decrypted} decrypted, ${noKey} refused without a key, ${accepted} accepted`,
    );
    expect(decrypted).toBe(1);
    expect(noKey).toBe(frames.length - 1 - accepted);
  });

  it('1027s from one source are capped per minute (a failed decrypt costs extra); with the victim under attack from 12 sources, the owner reconnects from 127.0.0.2 and the report is intact', async () => {
    const m = await tcpConn(srv.port);
    let keys = 0;
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) {
      await m.sendFrame(
        encodeRequest({ code: RequestCode.Reconnect, clientId: victim.clientId, name: victim.name }),
      );
      const r = await m.next();
      if (r?.code === ResponseCode.Reconnected) {
        keys++;
        // Each key is spent on one failed query, as an oracle would.
        await m.sendFrame(paddingQuery(victim, randomBytes(32)));
        await m.next();
      }
    }
    m.close();
    console.log(
      `keys for one source: ${keys} of 30 1027s in ${Date.now() - t0} ms (limit ${RECONNECTS_PER_MINUTE}/min)`,
    );
    expect(keys).toBeLessThanOrEqual(2);
    const limited = () => logLines().filter((l) => l.error === 'RECONNECT_RATE_LIMITED').length;
    await until(() => limited() >= 28, 'a RECONNECT_RATE_LIMITED line per refused 1027');

    // Eleven more sources each spend a key on a failed query: the victim's failure budget
    // (10 an hour) is gone, so every 1027 for it now costs its source the penalty too.
    let more = 0;
    for (let n = 10; n < 21; n++) {
      const s = await tcpConn(srv.port, `127.0.0.${n}`);
      await s.sendFrame(
        encodeRequest({ code: RequestCode.Reconnect, clientId: victim.clientId, name: victim.name }),
      );
      if ((await s.next())?.code === ResponseCode.Reconnected) {
        more++;
        await s.sendFrame(paddingQuery(victim, randomBytes(32)));
        await s.next();
      }
      s.close();
    }
    console.log(`keys from 11 other sources: ${more}; the victim's failure budget is now spent`);
    expect(more).toBe(11);

    // The owner, elsewhere, is not locked out: its source pays from its own bucket.
    const own = await tcpConn(srv.port, '127.0.0.2');
    const again = await reconnect(own, victim);
    await uploadVerified(own, again, 'after.txt', Buffer.from('still mine'));
    own.close();
    const row = fileRows(srv.data).find(
      (r) => hex(r.ID) === hex(victim.clientId) && r.FileName === 'report.txt',
    );
    expect(row?.Verified).toBe(1);
    expect(sha256(readFileSync(join(srv.data, 'files', row!.PathName)))).toBe(sha256(report));
  });

  it('the full client ID is in no log line and no stored path', () => {
    const id = hex(victim.clientId);
    expect(srv.output()).not.toContain(id);
    const lines = logLines().filter((l) => typeof l.client === 'string' && l.client !== '');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect((l.client as string).length).toBeLessThanOrEqual(8);
    for (const p of walk(srv.data)) expect(p).not.toContain(id);
    for (const r of fileRows(srv.data)) expect(r.PathName).not.toContain(id);
  });
});
