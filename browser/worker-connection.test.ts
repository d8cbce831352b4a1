import { describe, expect, it } from 'vitest';
import { WorkerConnection } from './worker-connection';

class FakeConn {
  closed = 0;
  constructor(readonly name: string) {}
  close(): void {
    this.closed++;
  }
}

const make = () => new WorkerConnection<FakeConn, string>();

describe('WorkerConnection', () => {
  it('adopts a connection for the latest ticket and sets where to reconnect', () => {
    const s = make();
    const ticket = s.restart();
    const c = new FakeConn('a');
    expect(s.adopt(ticket, c, 'ws://bridge/ as alice')).toBe(true);
    expect(s.current).toBe(c);
    expect(s.target).toBe('ws://bridge/ as alice');
    expect(c.closed).toBe(0);
  });

  it('a superseded ticket cannot adopt: the late connection is closed, the newer one stays', () => {
    const s = make();
    const old = s.restart();
    const fresh = s.restart();
    expect(s.isCurrent(old)).toBe(false);
    const newer = new FakeConn('new');
    expect(s.adopt(fresh, newer)).toBe(true);
    const late = new FakeConn('late');
    expect(s.adopt(old, late)).toBe(false);
    expect(late.closed).toBe(1);
    expect(s.current).toBe(newer);
  });

  it('restart() closes the connection, aborts the upload on it, and keeps the target unless given one', () => {
    const s = make();
    const c = new FakeConn('a');
    s.adopt(s.restart(), c, 'first');
    const upload = s.beginUpload('file-1')!;
    s.restart();
    expect(c.closed).toBe(1);
    expect(upload.signal.aborted).toBe(true);
    expect(s.current).toBeUndefined();
    expect(s.target).toBe('first');
    s.restart('second');
    expect(s.target).toBe('second');
  });

  it('disconnect() closes and forgets the target', () => {
    const s = make();
    const c = new FakeConn('a');
    s.adopt(s.restart(), c, 'first');
    s.disconnect();
    expect(c.closed).toBe(1);
    expect(s.target).toBeUndefined();
    expect(s.current).toBeUndefined();
  });

  it('one upload at a time, only on a connection; cancel aborts only the matching one', () => {
    const s = make();
    expect(s.beginUpload('x')).toBeUndefined();
    const c = new FakeConn('a');
    s.adopt(s.restart(), c);
    const first = s.beginUpload('x')!;
    expect(first.conn).toBe(c);
    expect(s.uploading).toBe(true);
    expect(s.beginUpload('y')).toBeUndefined();
    expect(s.cancel('y')).toBe(false);
    expect(first.signal.aborted).toBe(false);
    expect(s.cancel('x')).toBe(true);
    expect(first.signal.aborted).toBe(true);
    s.endUpload();
    expect(s.uploading).toBe(false);
    expect(s.beginUpload('y')).toBeDefined();
  });

  it('a connection closing while idle is forgotten; during an upload, or once replaced, it is not', () => {
    const s = make();
    const a = new FakeConn('a');
    s.adopt(s.restart(), a);
    s.beginUpload('x');
    expect(s.closedWhileIdle(a)).toBe(false);
    expect(s.current).toBe(a);
    s.endUpload();
    const b = new FakeConn('b');
    s.adopt(s.restart(), b);
    expect(s.closedWhileIdle(a)).toBe(false);
    expect(s.current).toBe(b);
    expect(s.closedWhileIdle(b)).toBe(true);
    expect(s.current).toBeUndefined();
  });

  it('forget() drops only the current connection', () => {
    const s = make();
    const a = new FakeConn('a');
    s.adopt(s.restart(), a);
    expect(s.forget(new FakeConn('other'))).toBe(false);
    expect(s.forget(a)).toBe(true);
    expect(s.current).toBeUndefined();
    expect(a.closed).toBe(0);
  });

  it('ready() waits for a reconnect in progress while there is no connection, and not after it', async () => {
    const s = make();
    let finish: () => void = () => {};
    const run = new Promise<void>((r) => {
      finish = r;
    });
    const c = new FakeConn('a');
    s.trackReconnect(run.then(() => void s.adopt(s.restart(), c)));
    let ready = false;
    const waiting = s.ready().then(() => {
      ready = true;
    });
    await Promise.resolve();
    expect(ready).toBe(false);
    finish();
    await waiting;
    expect(s.current).toBe(c);
    await s.ready(); // nothing in progress any more
  });

  it('a failed reconnect is no longer waited for', async () => {
    const s = make();
    await expect(s.trackReconnect(Promise.reject(new Error('down')))).rejects.toThrow('down');
    await s.ready();
  });
});
