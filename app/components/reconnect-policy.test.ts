import { describe, expect, it } from 'vitest';
import { reconnectDelay } from './reconnect-policy';

const stored = { hasIdentity: true, importing: false };

describe('reconnectDelay', () => {
  it('backs off 2, 4, 8, then 15 s for good while the bridge is unreachable', () => {
    expect([0, 1, 2, 3, 4, 9].map((n) => reconnectDelay('unreachable', n, stored))).toEqual([
      2, 4, 8, 15, 15, 15,
    ]);
  });

  it('a lost connection is tried again after half a second first, then backs off the same way', () => {
    expect([0, 1, 2].map((n) => reconnectDelay('lost', n, stored))).toEqual([0.5, 4, 8]);
  });

  it('never for problems the person must act on, without an identity, or while importing one', () => {
    for (const p of ['refused', 'name-taken', 'rejected', 'server-error', 'wrong-key'] as const) {
      expect(reconnectDelay(p, 0, stored)).toBeUndefined();
    }
    expect(reconnectDelay('unreachable', 0, { hasIdentity: false, importing: false })).toBeUndefined();
    expect(reconnectDelay('lost', 0, { hasIdentity: true, importing: true })).toBeUndefined();
  });

  it('any problem the worker says may pass by itself (retry) backs off like an unreachable bridge', () => {
    expect(reconnectDelay('needs-v4', 0, stored)).toBeUndefined();
    expect([0, 1, 5].map((n) => reconnectDelay('needs-v4', n, { ...stored, retry: true }))).toEqual([
      2, 4, 15,
    ]);
    expect(
      reconnectDelay('needs-v4', 0, { hasIdentity: false, importing: false, retry: true }),
    ).toBeUndefined();
  });
});
