import { describe, expect, it } from 'vitest';
import { BrowserError } from '@/browser/errors';
import type { UploadRecord } from '@/browser/history-store';
import type { StoredIdentity } from '@/browser/identity-store';
import type { FromWorker, ServerKeyChange, ToWorker } from '@/browser/upload-protocol';
import { formatMeInfo } from '@/lib/crypto';
import { generateInviteKeyPair, type InvitePayload, signInvite } from '@/lib/invite';
import { MAX_FILE_SIZE } from '@/lib/protocol';
import { MAX_ME_INFO_BYTES, STORAGE_TIMEOUT_MS, TransferModel } from './transfer-state';
import type { TransferDeps } from './transfer-types';

const URL = 'ws://bridge.test/';
const key = { type: 'private' } as unknown as CryptoKey;
const clientId = new Uint8Array(16).fill(7);
const alice: StoredIdentity = {
  name: 'alice',
  clientId,
  privateKey: key,
  createdAt: 1,
  origin: 'registered',
};

interface Timer {
  run: () => void;
  ms: number;
  cleared: boolean;
}

/** A model over fakes: the worker's messages, IndexedDB, timers and clocks are all in the test's hands. */
function setup(
  opts: {
    identity?: StoredIdentity;
    load?: Promise<StoredIdentity | undefined>;
    access?: 'open' | 'invite';
    /** The invite token already in IndexedDB. */
    storedInvite?: string;
    /** The page's address fragment (e.g. `#invite=sfi1...`). */
    address?: string;
    protocol?: 3 | 4 | 'auto';
  } = {},
) {
  const invites = {
    stored: opts.storedInvite,
    server: undefined as string | undefined,
    address: opts.address,
    taken: 0,
  };
  const fingerprints = { key: null as string | null, server: null as string | null };
  const posted: ToWorker[] = [];
  const timers: Timer[] = [];
  const records: UploadRecord[] = [];
  const saved: StoredIdentity[] = [];
  const pinsForgotten: string[] = [];
  let toPage: (msg: FromWorker) => void = () => {};
  let crash: (e: Error) => void = () => {};
  const fx = {
    terminated: 0,
    saveFails: false,
    forgetFails: false,
    forgotten: 0,
    now: 1_000_000,
    mono: 0,
  };
  const deps: TransferDeps = {
    startWorker: (onMessage, onCrash) => {
      toPage = onMessage;
      crash = onCrash;
      return { post: (m) => posted.push(m), terminate: () => fx.terminated++ };
    },
    loadIdentity: () => opts.load ?? Promise.resolve(opts.identity),
    saveIdentity: async (id) => {
      if (fx.saveFails) throw new BrowserError('BROWSER_ERR_STORAGE', 'Quota exceeded.');
      saved.push(id);
    },
    forgetIdentity: async () => {
      if (fx.forgetFails) throw new BrowserError('BROWSER_ERR_STORAGE', 'Blocked.');
      fx.forgotten++;
    },
    loadInvite: async () =>
      invites.stored === undefined
        ? undefined
        : { token: invites.stored, ...(invites.server ? { server: invites.server } : {}) },
    saveInvite: async (kept) => {
      invites.stored = kept.token;
      invites.server = kept.server;
    },
    forgetInvite: async () => {
      invites.stored = undefined;
      invites.server = undefined;
    },
    v4Fingerprints: async () => ({ ...fingerprints }),
    forgetPin: async (address) => {
      pinsForgotten.push(address);
    },
    takeInviteFromAddress: () => {
      const a = invites.address;
      invites.address = undefined;
      if (a) invites.taken++;
      return a;
    },
    addUploadRecord: async (r) => {
      records.push(r);
    },
    listUploadRecords: async () => [...records],
    removeUploadRecords: async (ids) => {
      for (const id of ids)
        records.splice(
          records.findIndex((r) => r.id === id),
          1,
        );
    },
    importPrivateKey: async () => key,
    now: () => fx.now,
    monotonic: () => fx.mono,
    setTimeout: (run, ms) => {
      const t = { run, ms, cleared: false };
      timers.push(t);
      return t;
    },
    clearTimeout: (t) => {
      if (t) (t as Timer).cleared = true;
    },
  };
  const model = new TransferModel(URL, deps, opts.access, opts.protocol);
  const state = () => model.getSnapshot();
  /** Reconnect timers still to fire (the first timer is start()'s storage watchdog). */
  const pending = () => timers.filter((t, i) => i > 0 && !t.cleared);
  return {
    model,
    state,
    posted,
    timers,
    pending,
    records,
    saved,
    pinsForgotten,
    fx,
    invites,
    fingerprints,
    worker: (msg: FromWorker) => toPage(msg),
    crash: (e: Error) => crash(e),
    /** Lets promise callbacks (IndexedDB answers) run. */
    settle: () => new Promise((r) => setTimeout(r, 0)),
  };
}

const file = (name: string, size: number) => new File([new Uint8Array(size)], name);
const lastPosted = (posted: ToWorker[]) => posted[posted.length - 1];
/** The worker's answer to a registration: the new key and its PKCS#8. */
const registered = (name: string, pkcs8: Uint8Array): FromWorker => ({
  type: 'connected',
  name,
  clientId,
  via: 'register',
  privateKey: key,
  privateKeyPkcs8: pkcs8,
});

/** A started model whose identity load has answered. */
async function started(opts: Parameters<typeof setup>[0] = {}) {
  const t = setup(opts);
  t.model.start();
  await t.settle();
  return t;
}

async function connected(identity = alice) {
  const t = await started({ identity });
  t.worker({ type: 'connected', name: identity.name, clientId: identity.clientId, via: 'reconnect' });
  return t;
}

describe('TransferModel: start', () => {
  it('without a stored identity: idle, history loaded, nothing posted', async () => {
    const t = setup();
    expect(t.state().conn).toEqual({ kind: 'starting' });
    t.model.start();
    await t.settle();
    expect(t.state().identity).toBeNull();
    expect(t.state().conn).toEqual({ kind: 'idle' });
    expect(t.posted).toEqual([]);
  });

  it('with a stored identity: reconnects with it, then is connected', async () => {
    const t = await started({ identity: alice });
    expect(t.state().identity).toBe(alice);
    expect(t.posted).toEqual([{ type: 'reconnect', url: URL, name: 'alice', clientId, privateKey: key }]);
    expect(t.state().conn).toEqual({ kind: 'connecting', registering: false });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    expect(t.state().conn).toEqual({ kind: 'connected' });
    expect(t.saved).toEqual([]);
  });

  it('IndexedDB that does not answer is a storage problem after the timeout; one that fails at once too', async () => {
    const t = setup({ load: new Promise(() => {}) });
    t.model.start();
    expect(t.timers[0]!.ms).toBe(STORAGE_TIMEOUT_MS);
    t.timers[0]!.run();
    expect(t.state().conn).toMatchObject({ kind: 'problem', problem: 'storage' });

    const f = setup({ load: Promise.reject(new BrowserError('BROWSER_ERR_STORAGE', 'No IndexedDB here.')) });
    f.model.start();
    await f.settle();
    expect(f.state().identity).toBeNull();
    expect(f.state().conn).toEqual({ kind: 'problem', problem: 'storage', detail: 'No IndexedDB here.' });
  });

  it('a worker crash is a worker problem', async () => {
    const t = setup();
    t.model.start();
    t.crash(new BrowserError('BROWSER_ERR_WORKER', 'The upload worker failed: boom.'));
    expect(t.state().conn).toMatchObject({ kind: 'problem', problem: 'worker' });
  });

  it('stop() terminates the worker and clears the timers; answers for an earlier start are ignored', async () => {
    let answer: (id: StoredIdentity | undefined) => void = () => {};
    const t = setup({ load: new Promise((r) => (answer = r)) });
    t.model.start();
    t.model.stop();
    expect(t.fx.terminated).toBe(1);
    expect(t.timers.every((x) => x.cleared)).toBe(true);
    answer(alice);
    await t.settle();
    expect(t.state().identity).toBeUndefined();
    expect(t.posted).toEqual([]);
  });

  it('notifies subscribers with a new snapshot on each change, and stops after unsubscribing', async () => {
    const t = setup();
    let calls = 0;
    const off = t.model.subscribe(() => calls++);
    const before = t.state();
    t.model.start();
    await t.settle();
    expect(calls).toBeGreaterThan(0);
    expect(t.state()).not.toBe(before);
    off();
    const seen = calls;
    t.model.actions.dismissMeInfo();
    expect(calls).toBe(seen);
  });
});

describe('TransferModel: register and import', () => {
  it('an invalid name is refused without asking the worker', async () => {
    const t = await started();
    expect(t.model.actions.register('   ')).toMatch(/./);
    expect(t.posted).toEqual([]);
  });

  it('registers a name, keeps "registering" through the worker\'s connecting, stores the identity and offers me.info', async () => {
    const t = await started();
    expect(t.model.actions.register('  bob ')).toBeUndefined();
    expect(t.posted).toEqual([{ type: 'register', url: URL, name: 'bob' }]);
    expect(t.state().triedName).toBe('bob');
    t.worker({ type: 'connecting' });
    expect(t.state().conn).toEqual({ kind: 'connecting', registering: true });
    const pkcs8 = new Uint8Array([1, 2, 3]);
    t.worker(registered('bob', pkcs8));
    await t.settle();
    expect(t.state().conn).toEqual({ kind: 'connected' });
    expect(t.state().identity).toMatchObject({ name: 'bob', origin: 'registered', createdAt: t.fx.now });
    expect(t.saved.map((s) => s.name)).toEqual(['bob']);
    expect(t.state().meInfo).toEqual({
      name: 'bob',
      text: formatMeInfo({ name: 'bob', clientId, privateKeyPkcs8: pkcs8 }),
      downloaded: false,
    });
    // Downloading keeps the offer (to download again) until it is dismissed.
    t.model.actions.meInfoDownloaded();
    expect(t.state().meInfo).toMatchObject({ name: 'bob', downloaded: true });
    t.model.actions.dismissMeInfo();
    expect(t.state().meInfo).toBeNull();
  });

  it('an identity that cannot be stored is a storage problem', async () => {
    const t = await started();
    t.fx.saveFails = true;
    t.model.actions.register('bob');
    t.worker(registered('bob', new Uint8Array(1)));
    await t.settle();
    expect(t.state().conn).toEqual({ kind: 'problem', problem: 'storage', detail: 'Quota exceeded.' });
  });

  it('imports a me.info: reconnects with it and stores it only once the server accepted it', async () => {
    const t = await started();
    const text = formatMeInfo({ name: 'carol', clientId, privateKeyPkcs8: new Uint8Array([0x30, 5, 6]) });
    await t.model.actions.importMeInfo(new File([text], 'me.info'));
    expect(lastPosted(t.posted)).toMatchObject({ type: 'reconnect', name: 'carol' });
    expect(t.state().triedName).toBe('carol');
    expect(t.saved).toEqual([]);
    t.worker({ type: 'connected', name: 'carol', clientId, via: 'reconnect' });
    await t.settle();
    expect(t.saved).toMatchObject([{ name: 'carol', origin: 'imported' }]);
    expect(t.state().identity).toMatchObject({ name: 'carol' });
  });

  it('a bad or oversized me.info is a bad-file problem', async () => {
    const t = await started();
    await t.model.actions.importMeInfo(new File(['not an identity'], 'me.info'));
    expect(t.state().conn).toMatchObject({ kind: 'problem', problem: 'bad-file' });
    await t.model.actions.importMeInfo(new File([new Uint8Array(MAX_ME_INFO_BYTES + 1)], 'big.info'));
    expect(t.state().conn).toMatchObject({
      kind: 'problem',
      problem: 'bad-file',
      detail: expect.stringMatching(/too large/),
    });
    expect(t.posted).toEqual([]);
  });

  it('a rejected import is not retried and not stored', async () => {
    const t = await started();
    const text = formatMeInfo({ name: 'carol', clientId, privateKeyPkcs8: new Uint8Array([0x30, 5]) });
    await t.model.actions.importMeInfo(new File([text], 'me.info'));
    t.worker({ type: 'problem', problem: 'rejected', message: 'Unknown client.' });
    expect(t.state().conn).toEqual({ kind: 'problem', problem: 'rejected', detail: 'Unknown client.' });
    expect(t.pending()).toEqual([]);
    t.model.actions.retryNow(); // nothing pending any more, no identity: back to idle
    expect(t.state().conn).toEqual({ kind: 'idle' });
  });
});

describe('TransferModel: the upload queue', () => {
  it('queues files until connected, sends one at a time, in order, and records each outcome', async () => {
    const t = await started({ identity: alice });
    t.model.actions.addFiles([file('a.bin', 10), file('b.bin', 20)]);
    expect(t.state().items.map((i) => i.phase)).toEqual(['queued', 'queued']);
    expect(t.posted.filter((m) => m.type === 'upload')).toEqual([]);
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    const [a, b] = t.state().items;
    expect(lastPosted(t.posted)).toMatchObject({ type: 'upload', id: a!.id });
    expect(t.state().items.map((i) => i.phase)).toEqual(['sending', 'queued']);

    t.fx.mono = 1000;
    t.worker({
      type: 'progress',
      id: a!.id,
      phase: 'sending',
      attempt: 1,
      bytesRead: 6,
      bytesSent: 6,
      size: 10,
      inFlight: 1,
    });
    expect(t.state().items[0]).toMatchObject({ phase: 'sending', bytesRead: 5 });

    t.fx.now = 2_000_000;
    t.worker({ type: 'done', id: a!.id, outcome: 'verified', attempts: 1, cksum: 42 });
    expect(t.state().items[0]).toMatchObject({ phase: 'verified', cksum: 42 });
    expect(lastPosted(t.posted)).toMatchObject({ type: 'upload', id: b!.id });
    await t.settle();
    expect(t.records).toEqual([
      {
        id: `${(2_000_000).toString(36)}-${a!.id}`,
        fileName: 'a.bin',
        wireName: 'a.bin',
        size: 10,
        cksum: 42,
        finishedAt: 2_000_000,
        outcome: 'verified',
        clientName: 'alice',
        clientIdHex: '07'.repeat(16),
        attempts: 1,
      },
    ]);
    expect(t.state().history).toHaveLength(1);
  });

  it('cancel: the file being sent is cancelled by the worker, a queued one at once', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10), file('b.bin', 20)]);
    const [a, b] = t.state().items;
    t.model.actions.cancel(b!.id);
    expect(t.state().items[1]!.phase).toBe('cancelled');
    expect(t.posted.some((m) => m.type === 'cancel')).toBe(false);
    t.model.actions.cancel(a!.id);
    expect(lastPosted(t.posted)).toEqual({ type: 'cancel', id: a!.id });
    t.worker({ type: 'done', id: a!.id, outcome: 'cancelled', attempts: 0 });
    expect(t.state().items.map((i) => i.phase)).toEqual(['cancelled', 'cancelled']);
    expect(t.posted.filter((m) => m.type === 'upload')).toHaveLength(1);
  });

  it('a failed file can be put back in the queue and is sent again; finished ones can be cleared', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({ type: 'done', id, outcome: 'failed', attempts: 4, message: 'CRC mismatch.' });
    expect(t.state().items[0]).toMatchObject({ phase: 'failed', attempt: 4, message: 'CRC mismatch.' });
    t.model.actions.retryItem(id);
    expect(t.state().items[0]).toMatchObject({ phase: 'sending', attempt: 1, message: undefined });
    expect(t.posted.filter((m) => m.type === 'upload')).toHaveLength(2);
    t.worker({ type: 'done', id, outcome: 'verified', attempts: 1 });
    t.model.actions.clearFinished();
    expect(t.state().items).toEqual([]);
  });

  it('nothing is sent while not connected, and sending resumes on reconnect', async () => {
    const t = await connected();
    t.worker({ type: 'problem', problem: 'lost', message: 'closed' });
    t.model.actions.addFiles([file('a.bin', 10)]);
    expect(t.posted.filter((m) => m.type === 'upload')).toEqual([]);
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    expect(t.posted.filter((m) => m.type === 'upload')).toHaveLength(1);
  });
});

describe('TransferModel: reconnecting on its own', () => {
  it('retries an unreachable bridge with growing pauses, and starts over once connected', async () => {
    const t = await started({ identity: alice });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      t.worker({ type: 'problem', problem: 'unreachable', message: 'down' });
      const [timer] = t.pending();
      delays.push(timer!.ms);
      expect(t.state().conn).toEqual({
        kind: 'problem',
        problem: 'unreachable',
        detail: 'down',
        retryAt: t.fx.now + timer!.ms,
      });
      timer!.run();
      timer!.cleared = true;
      expect(lastPosted(t.posted)).toMatchObject({ type: 'reconnect', name: 'alice' });
      expect(t.state().conn).toEqual({ kind: 'connecting', registering: false });
    }
    expect(delays).toEqual([2000, 4000, 8000, 15000, 15000]);
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    t.worker({ type: 'problem', problem: 'unreachable', message: 'down' });
    expect(t.pending().map((x) => x.ms)).toEqual([2000]);
  });

  it('a lost connection is first tried again after half a second', async () => {
    const t = await connected();
    t.worker({ type: 'problem', problem: 'lost', message: 'The connection to the bridge closed.' });
    expect(t.pending().map((x) => x.ms)).toEqual([500]);
  });

  it('problems the person must act on are not retried; "Try again" reconnects at once', async () => {
    const t = await connected();
    for (const problem of ['refused', 'rejected', 'server-error', 'wrong-key', 'name-taken'] as const) {
      t.worker({ type: 'problem', problem, message: problem });
      expect(t.state().conn).toEqual({ kind: 'problem', problem, detail: problem });
      expect(t.pending()).toEqual([]);
    }
    const before = t.posted.length;
    t.model.actions.retryNow();
    expect(t.posted.slice(before)).toMatchObject([{ type: 'reconnect', name: 'alice' }]);
  });

  it('without an identity nothing is retried', async () => {
    const t = await started();
    t.model.actions.register('bob');
    t.worker({ type: 'problem', problem: 'unreachable', message: 'down' });
    expect(t.pending()).toEqual([]);
    expect(t.state().conn).toEqual({ kind: 'problem', problem: 'unreachable', detail: 'down' });
  });

  it('registering or reconnecting by hand cancels a pending automatic attempt', async () => {
    const t = await connected();
    t.worker({ type: 'problem', problem: 'unreachable', message: 'down' });
    const [timer] = t.pending();
    t.model.actions.retryNow();
    expect(timer!.cleared).toBe(true);
  });
});

describe('TransferModel: forget', () => {
  it('disconnects, cancels unfinished files, drops the offer and the identity', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10), file('b.bin', 10)]);
    await t.model.actions.forget();
    expect(lastPosted(t.posted)).toEqual({ type: 'disconnect' });
    expect(t.state().items.map((i) => i.phase)).toEqual(['cancelled', 'cancelled']);
    expect(t.state().identity).toBeNull();
    expect(t.state().conn).toEqual({ kind: 'idle' });
    expect(t.fx.forgotten).toBe(1);
  });

  it('storage that refuses to forget is a storage problem, and the identity stays', async () => {
    const t = await connected();
    t.fx.forgetFails = true;
    await t.model.actions.forget();
    expect(t.state().conn).toEqual({ kind: 'problem', problem: 'storage', detail: 'Blocked.' });
    expect(t.state().identity).toBe(alice);
  });

  it('registerAgain() after a 1606 forgets the identity and registers the same name', async () => {
    const t = await connected();
    t.worker({ type: 'problem', problem: 'rejected', message: 'Unknown client.' });
    await t.model.actions.registerAgain();
    expect(t.posted.slice(-2)).toEqual([
      { type: 'disconnect' },
      { type: 'register', url: URL, name: 'alice' },
    ]);
    expect(t.state().conn).toEqual({ kind: 'connecting', registering: true });
  });
});

describe('TransferModel: what a sender is told', () => {
  const bob: StoredIdentity = { ...alice, name: 'bob', clientId: new Uint8Array(16).fill(9) };

  it('a file that failed because the connection dropped is sent again by itself once it is back, its error cleared', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10), file('b.bin', 10)]);
    const [a] = t.state().items;
    t.worker({
      type: 'done',
      id: a!.id,
      outcome: 'failed',
      attempts: 1,
      message: 'closed',
      code: 'CLIENT_ERR_CONNECTION_CLOSED',
    });
    expect(t.state().items[0]).toMatchObject({ phase: 'failed', interrupted: true });
    t.worker({ type: 'problem', problem: 'lost', message: 'closed' });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    // Requeued ahead of b (its place in the queue), from the start, without the old error.
    expect(t.state().items[0]).toMatchObject({
      phase: 'sending',
      attempt: 1,
      bytesRead: 0,
      message: undefined,
    });
    expect(t.state().items[0]!.interrupted).toBeUndefined();
    expect(lastPosted(t.posted)).toMatchObject({ type: 'upload', id: a!.id });
  });

  it('an interrupted file is not put in the history as failed: only its final outcome is', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({
      type: 'done',
      id,
      outcome: 'failed',
      attempts: 1,
      message: 'closed',
      code: 'CLIENT_ERR_CONNECTION_CLOSED',
    });
    await t.settle();
    expect(t.records).toEqual([]);
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    t.worker({ type: 'done', id, outcome: 'verified', attempts: 1, protocol: 4, sha256: 'ab' });
    await t.settle();
    expect(t.records.map((r) => r.outcome)).toEqual(['verified']);
  });

  it('a file the server refused (CRC) is not re-sent by itself; one interrupted again and again stops after 3', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({
      type: 'done',
      id,
      outcome: 'failed',
      attempts: 4,
      message: 'crc',
      code: 'CLIENT_ERR_CRC_MISMATCH',
    });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    expect(t.state().items[0]!.phase).toBe('failed');
    t.model.actions.retryItem(id);
    for (let i = 0; i < 4; i++) {
      t.worker({
        type: 'done',
        id,
        outcome: 'failed',
        attempts: 1,
        message: 'x',
        code: 'CLIENT_ERR_CONNECTION_CLOSED',
      });
      t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    }
    expect(t.state().items[0]).toMatchObject({ phase: 'failed' });
    expect(t.posted.filter((m) => m.type === 'upload')).toHaveLength(5);
  });

  it("files over v3's limit are refused when added, the others queued", async () => {
    const t = await connected();
    const huge = { name: 'huge.iso', size: MAX_FILE_SIZE + 1 } as File;
    t.model.actions.addFiles([huge, file('ok.bin', 1)]);
    expect(t.state().refused).toEqual([{ name: 'huge.iso', size: MAX_FILE_SIZE + 1 }]);
    expect(t.state().items.map((i) => i.file.name)).toEqual(['ok.bin']);
    t.model.actions.dismissRefused();
    expect(t.state().refused).toEqual([]);
  });

  it('a file with the name of one sent before (or ahead in the queue) is marked as replacing it', async () => {
    const t = await connected();
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({ type: 'done', id, outcome: 'verified', attempts: 1 });
    await t.settle();
    await t.settle();
    t.model.actions.addFiles([file('a.bin', 5), file('new.bin', 5), file('new.bin', 6)]);
    expect(t.state().items.map((i) => i.replaces ?? false)).toEqual([false, true, false, true]);
  });

  it("history shows the current identity's uploads only, can be cleared, and forget clears it", async () => {
    const rec = (id: string, who: StoredIdentity) => ({
      id,
      fileName: `${id}.bin`,
      size: 1,
      finishedAt: 1,
      outcome: 'verified' as const,
      clientName: who.name,
      clientIdHex: Array.from(who.clientId, (b) => b.toString(16).padStart(2, '0')).join(''),
      attempts: 1,
    });
    const t = setup({ identity: alice });
    t.records.push(rec('mine', alice), rec('theirs', bob), { ...rec('old', alice), clientIdHex: undefined });
    t.model.start();
    await t.settle();
    expect(
      t
        .state()
        .history.map((r) => r.id)
        .sort(),
    ).toEqual(['mine', 'old']);
    await t.model.actions.clearHistory();
    expect(t.state().history).toEqual([]);
    expect(t.records.map((r) => r.id)).toEqual(['theirs']);

    const u = setup({ identity: bob });
    u.records.push(rec('b1', bob));
    u.model.start();
    await u.settle();
    expect(u.state().history).toHaveLength(1);
    await u.model.actions.forget();
    expect(u.state().history).toEqual([]);
    expect(u.records).toEqual([]);
  });
});

describe('TransferModel: invites', () => {
  const NOW_S = 1_000; // fx.now is 1_000_000 ms
  async function token(over: Partial<InvitePayload> = {}): Promise<string> {
    const keys = await generateInviteKeyPair();
    const payload: InvitePayload = {
      v: 1,
      id: '0123456789abcdef',
      label: 'Dana',
      iat: NOW_S - 10,
      exp: NOW_S + 7 * 86400,
      maxBytes: 10 * 2 ** 30,
      maxFiles: 100,
      maxClients: 1,
      ...over,
    };
    return signInvite(payload, keys.privateKey);
  }

  it('a link in the address is taken out of it, kept, and offered at registration and every reconnect', async () => {
    const tok = await token();
    const t = await started({ access: 'invite', address: `#invite=${tok}` });
    expect(t.invites.taken).toBe(1);
    expect(t.invites.stored).toBe(tok);
    expect(t.state().invite?.payload.label).toBe('Dana');
    expect(t.state().inviteProblem).toBeNull();
    t.model.actions.register('alice');
    expect(lastPosted(t.posted)).toEqual({ type: 'register', url: URL, name: 'alice', invite: tok });

    const again = await started({ access: 'invite', identity: alice, storedInvite: tok });
    expect(lastPosted(again.posted)).toMatchObject({ type: 'reconnect', invite: tok });
  });

  it('invite mode without an invite: nothing is sent; a pasted link is used and connects the identity', async () => {
    const t = await started({ access: 'invite', identity: alice });
    expect(t.posted).toEqual([]);
    expect(t.state().conn).toEqual({
      kind: 'problem',
      problem: 'invite',
      detail: 'You need an invite link from the owner of this server.',
    });
    t.model.actions.applyInvite('not a link');
    expect(t.state().inviteProblem).toMatch(/damaged/);
    expect(t.posted).toEqual([]);
    const tok = await token();
    t.model.actions.applyInvite(`  https://files.example.org/#invite=${tok}\n`);
    expect(lastPosted(t.posted)).toMatchObject({ type: 'reconnect', invite: tok });
    expect(t.state().inviteProblem).toBeNull();

    const fresh = await started({ access: 'invite' });
    expect(fresh.model.actions.register('bob')).toBeUndefined();
    expect(fresh.posted).toEqual([]);
    expect(fresh.state().conn).toMatchObject({ kind: 'problem', problem: 'invite' });
  });

  it('an expired link says so before connecting, and is not kept', async () => {
    const tok = await token({ iat: NOW_S - 100, exp: NOW_S - 1 });
    const t = await started({ access: 'invite', address: `#invite=${tok}` });
    expect(t.state().inviteProblem).toBe('This invite link has expired; ask its owner for a new one.');
    expect(t.state().invite).toBeNull();
    expect(t.invites.stored).toBeUndefined();
    expect(t.posted).toEqual([]);

    // A kept invite that expired since: refused before connecting in invite mode, not offered in open mode.
    const kept = await started({ access: 'invite', identity: alice, storedInvite: tok });
    expect(kept.posted).toEqual([]);
    expect(kept.state().conn).toMatchObject({ kind: 'problem', problem: 'invite', detail: /expired/ });
    const open = await started({ identity: alice, storedInvite: tok });
    expect(lastPosted(open.posted)).toMatchObject({ type: 'reconnect', invite: undefined });
  });

  it('counts what was sent under the invite; a 1607 at the start of a file is explained as its limit; forget drops it', async () => {
    const tok = await token();
    const t = await started({ access: 'invite', identity: alice, storedInvite: tok });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect' });
    t.model.actions.addFiles([file('a.bin', 1000), file('b.bin', 2000)]);
    const [a, b] = t.state().items;
    t.worker({ type: 'done', id: a!.id, outcome: 'verified', attempts: 1, cksum: 1 });
    await t.settle();
    await t.settle();
    expect(t.records[0]).toMatchObject({ inviteId: '0123456789abcdef', size: 1000 });
    expect(t.state().inviteSent).toEqual({ files: 1, bytes: 1000 });
    t.worker({
      type: 'done',
      id: b!.id,
      outcome: 'failed',
      attempts: 1,
      code: 'CLIENT_ERR_SERVER_ERROR',
      message: '1607',
    });
    expect(t.state().items[1]).toMatchObject({ phase: 'failed', overInvite: true });
    await t.model.actions.forget();
    expect(t.invites.stored).toBeUndefined();
    expect(t.state().invite).toBeNull();
  });

  it('the bridge refusing the invite is an invite problem, not retried', async () => {
    const t = await started({ identity: alice, storedInvite: await token() });
    t.worker({
      type: 'problem',
      problem: 'invite',
      message: 'This invite link was not made by this server.',
    });
    expect(t.state().conn).toMatchObject({ kind: 'problem', problem: 'invite' });
    expect(t.pending()).toEqual([]);
  });
});

describe('TransferModel: protocol v4', () => {
  const change = { address: 'bridge.test:80', pinned: 'SHA256:old', offered: 'SHA256:new' };

  it('a changed server key: a warning with both keys, no retry on its own; forgetting it needs the action, then reconnects', async () => {
    const t = await connected();
    const before = t.posted.length;
    t.worker({ type: 'problem', problem: 'server-key-changed', message: 'changed', serverKey: change });
    expect(t.state().conn).toEqual({
      kind: 'problem',
      problem: 'server-key-changed',
      detail: 'changed',
      serverKey: change,
    });
    expect(t.pending()).toEqual([]);
    expect(t.posted.length).toBe(before);
    await t.model.actions.forgetServerKey();
    expect(t.pinsForgotten).toEqual(['bridge.test:80']);
    expect(lastPosted(t.posted)).toMatchObject({ type: 'reconnect', name: 'alice' });
  });

  it('forgetServerKey does nothing without a changed-key warning', async () => {
    const t = await connected();
    await t.model.actions.forgetServerKey();
    expect(t.pinsForgotten).toEqual([]);
  });

  it('?protocol=3|4 is passed to the worker; auto is its default and not posted', async () => {
    for (const protocol of [3, 4] as const) {
      const t = await started({ identity: alice, protocol });
      expect(lastPosted(t.posted)).toMatchObject({ type: 'reconnect', protocol });
    }
    const t = await started({ identity: alice, protocol: 'auto' });
    expect(lastPosted(t.posted)).not.toHaveProperty('protocol');
  });

  it('files over 4 GiB are queued on a v4 connection, refused on a v3 one', async () => {
    const huge = { name: 'huge.iso', size: MAX_FILE_SIZE + 1 } as File;
    const t = await started({ identity: alice });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect', protocol: 4 });
    expect(t.state().protocol).toBe(4);
    t.model.actions.addFiles([huge]);
    expect(t.state().refused).toEqual([]);
    expect(t.state().items.map((it) => it.size)).toEqual([MAX_FILE_SIZE + 1]);
    const v3 = await connected();
    v3.model.actions.addFiles([huge]);
    expect(v3.state().refused).toEqual([{ name: 'huge.iso', size: MAX_FILE_SIZE + 1 }]);
  });

  it("a notice is shown on the file's row; the server's SHA-256 and the resume point are kept with it", async () => {
    const t = await started({ identity: alice });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect', protocol: 4 });
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({ type: 'notice', id, message: 'It starts again.' });
    expect(t.state().items[0]!.note).toBe('It starts again.');
    t.worker({
      type: 'done',
      id,
      outcome: 'verified',
      attempts: 1,
      protocol: 4,
      sha256: 'ab'.repeat(32),
      resumedFrom: 3,
      storedName: 'a (1).bin',
    });
    expect(t.state().items[0]).toMatchObject({
      phase: 'verified',
      sha256: 'ab'.repeat(32),
      resumedFrom: 3,
      storedName: 'a (1).bin',
      protocol: 4,
    });
    await t.settle();
    expect(t.records[0]?.sha256).toBe('ab'.repeat(32));
  });

  it('a v4 file cut by a lost connection is sent again by itself once connected (the worker resumes it)', async () => {
    const t = await started({ identity: alice });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect', protocol: 4 });
    t.model.actions.addFiles([file('a.bin', 10)]);
    const id = t.state().items[0]!.id;
    t.worker({
      type: 'done',
      id,
      outcome: 'failed',
      attempts: 1,
      protocol: 4,
      code: 'CLIENT_ERR_CONNECTION_CLOSED',
      message: 'closed',
    });
    expect(t.state().items[0]).toMatchObject({ phase: 'failed', interrupted: true });
    t.worker({ type: 'connected', name: 'alice', clientId, via: 'reconnect', protocol: 4 });
    expect(lastPosted(t.posted)).toMatchObject({ type: 'upload', id });
  });
});

describe('TransferModel: a protocol v4 identity (one registration, by the protocol spoken)', () => {
  const bob4: StoredIdentity = { name: 'bob', clientId, createdAt: 1, origin: 'registered' };

  it('a v4 registration stores name and client ID only: no RSA key, no me.info offer', async () => {
    const t = await started();
    t.model.actions.register('bob');
    t.worker({ type: 'connected', name: 'bob', clientId, via: 'register', protocol: 4 });
    await t.settle();
    expect(t.saved).toEqual([{ name: 'bob', clientId, createdAt: 1_000_000, origin: 'registered' }]);
    expect(t.saved[0]).not.toHaveProperty('privateKey');
    expect(t.state().meInfo).toBeNull();
    expect(t.state().protocol).toBe(4);
  });

  it('a v3 registration still stores the RSA key and offers me.info', async () => {
    const t = await started({ protocol: 3 });
    t.model.actions.register('carl');
    t.worker(registered('carl', new Uint8Array([0x30, 1, 2])));
    expect(t.saved[0]?.privateKey).toBe(key);
    expect(t.state().meInfo?.name).toBe('carl');
  });

  it('reconnects with no privateKey in the message (the worker then speaks v4 only); > 4 GiB files are queued', async () => {
    const t = await started({ identity: bob4 });
    expect(t.posted).toEqual([{ type: 'reconnect', url: URL, name: 'bob', clientId }]);
    t.model.actions.addFiles([{ name: 'huge.iso', size: MAX_FILE_SIZE + 1 } as File]);
    expect(t.state().refused).toEqual([]);
  });

  it('a v4 identity the server registered again (new client ID) keeps its key under the new ID; a v3 one is not touched', async () => {
    const fresh = new Uint8Array(16).fill(9);
    const t = await started({ identity: bob4 });
    t.worker({ type: 'connected', name: 'bob', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(t.saved).toEqual([{ ...bob4, clientId: fresh }]);
    const v3 = await started({ identity: alice });
    v3.worker({ type: 'connected', name: 'alice', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(v3.saved).toEqual([]);
  });

  it('a v4 identity the server registered again is told so once, with both client IDs, until dismissed', async () => {
    const fresh = new Uint8Array(16).fill(9);
    const t = await started({ identity: bob4 });
    expect(t.state().registeredAgain).toBeNull();
    t.worker({ type: 'connected', name: 'bob', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(t.state().registeredAgain).toEqual({
      name: 'bob',
      previousClientId: '07'.repeat(16),
      clientId: '09'.repeat(16),
    });
    // The next reconnect under the new ID changes nothing, and says nothing more.
    t.worker({ type: 'connected', name: 'bob', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(t.state().registeredAgain?.clientId).toBe('09'.repeat(16));
    t.model.actions.dismissRegisteredAgain();
    expect(t.state().registeredAgain).toBeNull();
    t.worker({ type: 'connected', name: 'bob', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(t.state().registeredAgain).toBeNull();
    // A known key (same ID), a v3 identity and a registration are not registrations again.
    const same = await started({ identity: bob4 });
    same.worker({ type: 'connected', name: 'bob', clientId, via: 'reconnect', protocol: 4 });
    expect(same.state().registeredAgain).toBeNull();
    const v3 = await started({ identity: alice });
    v3.worker({ type: 'connected', name: 'alice', clientId: fresh, via: 'reconnect', protocol: 4 });
    expect(v3.state().registeredAgain).toBeNull();
    const reg = await started();
    reg.model.actions.register('carol');
    reg.worker({ type: 'connected', name: 'carol', clientId: fresh, via: 'register', protocol: 4 });
    expect(reg.state().registeredAgain).toBeNull();
  });

  it('forgetting the identity drops the note that it was registered again', async () => {
    const t = await started({ identity: bob4 });
    t.worker({ type: 'connected', name: 'bob', clientId: new Uint8Array(16).fill(9), via: 'reconnect' });
    expect(t.state().registeredAgain).not.toBeNull();
    await t.model.actions.forget();
    expect(t.state().registeredAgain).toBeNull();
  });

  it('meeting a v3-only server: the problem is said, no retry on its own, no new identity', async () => {
    const t = await started({ identity: bob4 });
    t.worker({ type: 'problem', problem: 'needs-v4', message: 'v3 only' });
    expect(t.state().conn).toEqual({ kind: 'problem', problem: 'needs-v4', detail: 'v3 only' });
    expect(t.pending()).toEqual([]);
    expect(t.saved).toEqual([]);
    expect(t.state().identity).toBe(bob4);
  });

  it('a server that hung up on v4 (retry): needs-v4 is said and tried again on its own, then connects', async () => {
    const t = await started({ identity: bob4 });
    t.worker({ type: 'problem', problem: 'needs-v4', message: 'hung up', retry: true });
    const conn = t.state().conn;
    expect(conn.kind === 'problem' && conn.problem).toBe('needs-v4');
    expect(conn.kind === 'problem' && conn.retryAt).toBeGreaterThan(0);
    expect(t.pending().map((p) => p.ms)).toEqual([2000]);
    t.pending()[0]!.run();
    expect(t.posted.at(-1)).toMatchObject({ type: 'reconnect', name: 'bob' });
    t.worker({ type: 'connected', name: 'bob', clientId, via: 'reconnect', protocol: 4 });
    expect(t.state().conn).toEqual({ kind: 'connected' });
    expect(t.saved).toEqual([]);
  });

  it('the card gets the fingerprints from storage after a connection', async () => {
    const t = await started({ identity: bob4 });
    t.fingerprints.key = 'SHA256:me';
    t.fingerprints.server = 'SHA256:srv';
    t.worker({ type: 'connected', name: 'bob', clientId, via: 'reconnect', protocol: 4 });
    await t.settle();
    expect(t.state().fingerprints).toEqual({ key: 'SHA256:me', server: 'SHA256:srv' });
  });
});

describe('TransferModel: the invite link’s server fingerprint', () => {
  const NOW_S = Math.floor(1_000_000 / 1000);
  const FP = `SHA256:${'A'.repeat(43)}`;
  async function token(): Promise<string> {
    const keys = await generateInviteKeyPair();
    return signInvite(
      {
        v: 1,
        id: '0123456789abcdef',
        label: 'Dana',
        iat: NOW_S - 10,
        exp: NOW_S + 86400,
        maxBytes: null,
        maxFiles: null,
        maxClients: 1,
      },
      keys.privateKey,
    );
  }

  /** Registering under a link with `server=FP`, answered by the worker with this changed-key warning. */
  async function registeredWithLinkThen(serverKey: ServerKeyChange) {
    const tok = await token();
    const t = await started({ access: 'invite', address: `#invite=${tok}&server=${encodeURIComponent(FP)}` });
    t.model.actions.register('alice');
    t.worker({ type: 'problem', problem: 'server-key-changed', message: 'changed', serverKey });
    return { t, tok };
  }

  it('is read from the link, kept with the token, and given to the worker at registration and reconnects', async () => {
    const tok = await token();
    const t = await started({ access: 'invite', address: `#invite=${tok}&server=${encodeURIComponent(FP)}` });
    expect(t.state().invite?.server).toBe(FP);
    expect(t.invites).toMatchObject({ stored: tok, server: FP });
    t.model.actions.register('alice');
    expect(lastPosted(t.posted)).toEqual({
      type: 'register',
      url: URL,
      name: 'alice',
      invite: tok,
      serverFingerprint: FP,
    });
    const again = setup({ access: 'invite', identity: alice, storedInvite: tok });
    again.invites.server = FP;
    again.model.start();
    await again.settle();
    expect(lastPosted(again.posted)).toMatchObject({ type: 'reconnect', invite: tok, serverFingerprint: FP });
  });

  it('a link without server= works as before (nothing given to the worker)', async () => {
    const tok = await token();
    const t = await started({ access: 'invite', address: `#invite=${tok}` });
    t.model.actions.register('alice');
    expect(lastPosted(t.posted)).not.toHaveProperty('serverFingerprint');
    expect(t.invites.server).toBeUndefined();
  });

  it('a damaged server= is refused like a damaged link (never trust on first use instead)', async () => {
    const tok = await token();
    const t = await started({ access: 'invite', address: `#invite=${tok}&server=SHA256%3Abroken` });
    expect(t.state().invite).toBeNull();
    expect(t.state().inviteProblem).toContain('server fingerprint is damaged');
    expect(t.invites.stored).toBeUndefined();
  });

  it('the server contradicts the link (link-server): forgetting drops the pin and the link fingerprint', async () => {
    const serverKey = {
      address: 'bridge.test:80',
      pinned: FP,
      offered: 'SHA256:other',
      kind: 'link-server' as const,
    };
    const { t, tok } = await registeredWithLinkThen(serverKey);
    expect(t.state().conn).toMatchObject({ kind: 'problem', serverKey });
    await t.model.actions.forgetServerKey();
    expect(t.pinsForgotten).toEqual(['bridge.test:80']);
    expect(t.invites).toMatchObject({ stored: tok, server: undefined });
    expect(t.state().invite?.server).toBeUndefined();
    // Registration is tried again with the same name, without the link's fingerprint.
    expect(lastPosted(t.posted)).toEqual({ type: 'register', url: URL, name: 'alice', invite: tok });
  });

  it('the link contradicts an existing pin (pin-link): forgetting drops the pin only (the link is pinned next)', async () => {
    const { t } = await registeredWithLinkThen({
      address: 'bridge.test:80',
      pinned: 'SHA256:old',
      offered: FP,
      kind: 'pin-link',
    });
    await t.model.actions.forgetServerKey();
    expect(t.pinsForgotten).toEqual(['bridge.test:80']);
    expect(t.invites.server).toBe(FP);
    expect(lastPosted(t.posted)).toMatchObject({ type: 'register', serverFingerprint: FP });
  });
});
