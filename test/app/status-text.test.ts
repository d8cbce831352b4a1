import { describe, expect, it } from 'vitest';
import { describeConn } from '../../app/components/status-panel';
import type { StoredIdentity } from '../../browser/identity-store';

const actions = { retryNow() {}, registerAgain() {} };
const unreachable = { kind: 'problem', problem: 'unreachable', detail: 'x' } as const;
const alice = {
  name: 'alice',
  clientId: new Uint8Array(16),
  createdAt: 1,
  origin: 'registered',
} as StoredIdentity;

describe('the connection status in words', () => {
  it('unreachable before registering: says nothing was registered and to register again, not that files wait', () => {
    const d = describeConn(unreachable, null, 'ws://127.0.0.1:8080/', 'bob', undefined, actions)!;
    expect(d.body).toMatch(/nothing was registered/);
    expect(d.body).toMatch(/Register again/);
    expect(d.body).not.toMatch(/Files you add/);
  });

  it('unreachable with an identity: files wait and go out once it is back, with a retry button', () => {
    const d = describeConn(unreachable, alice, 'ws://127.0.0.1:8080/', '', undefined, actions)!;
    expect(d.body).toMatch(/Files you add wait here/);
    expect(d.action?.label).toBe('Try again now');
  });
});
