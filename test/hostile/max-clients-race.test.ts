/**
 * --max-clients against registrations that come at once. The cap was read (a count) before
 * the awaited steps of a registration (the v4 key's fingerprint, an invite token's
 * signature) and the row inserted after them: every registration in flight passed the same
 * count, and 24 new v4 keys at once under --max-clients 4 all registered. Now the cap is
 * checked in the insert's own statement, as an invite's client slots are.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { V4ErrorCode } from '../../lib/protocol/v4/constants';
import { NO_PEER_LIMITS, type ServerProcess, startServerProcess } from '../support/hostile';
import { queryDb } from '../support/server-state';
import { newIdentity, openV4, refusedCode } from '../support/v4-client';

const CAP = 4;
const AT_ONCE = 24;
let srv: ServerProcess;

beforeAll(async () => {
  srv = await startServerProcess([...NO_PEER_LIMITS, '--max-clients', String(CAP)]);
});
afterAll(async () => {
  await srv?.dispose();
});

const clients = () => queryDb<{ n: number }>(srv.data, 'SELECT count(*) AS n FROM clients')[0]!.n;

it(`${AT_ONCE} new v4 keys at once under --max-clients ${CAP}: ${CAP} registered, the rest Error 9`, async () => {
  const keys = await Promise.all(Array.from({ length: AT_ONCE }, () => newIdentity()));
  const codes = await Promise.all(keys.map((k) => refusedCode(openV4(srv.port, k).then((c) => c.close()))));
  expect(clients()).toBe(CAP);
  expect(codes.filter((c) => c === undefined)).toHaveLength(CAP);
  expect(codes.filter((c) => c !== undefined).every((c) => c === V4ErrorCode.Busy)).toBe(true);
});
