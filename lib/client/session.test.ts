import { describe, expect, it } from 'vitest';
import {
  bytesSource,
  makeKeyPair,
  nodeEncryptor,
  testBytes,
  webCryptoEncryptor,
} from '../../test/support/client-helpers';
import { FakeServer } from '../../test/support/fake-server';
import { cksum } from '../crypto';
import { MAX_FILE_SIZE, MAX_PACKETS, RequestCode } from '../protocol';
import { ClientError, type ClientErrorCode } from './errors';
import { establishIdentity } from './establish';
import { ClientSession, choosePacketSize, ENCRYPT_SLICE_SIZE } from './session';
import type { EncryptorFactory, SendProgress } from './types';

async function expectCode(p: Promise<unknown>, code: ClientErrorCode): Promise<ClientError> {
  const e = await p.then(
    () => {
      throw new Error(`expected ${code}, but it succeeded`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ClientError);
  expect((e as ClientError).code).toBe(code);
  return e as ClientError;
}

/** Byte equality without vitest's slow element-wise deep equality on big arrays. */
function expectBytes(actual: Uint8Array | undefined, expected: Uint8Array): void {
  expect(actual).toBeDefined();
  expect(actual!.length).toBe(expected.length);
  expect(Buffer.compare(actual!, expected)).toBe(0);
}

/** A registered client on `server` with an AES key, over a fresh connection. */
async function connected(
  server: FakeServer,
  opts: { name?: string; encryptor?: EncryptorFactory; packetSize?: number } = {},
) {
  const transport = server.connect();
  const session = new ClientSession({
    transport,
    encryptorFactory: opts.encryptor ?? webCryptoEncryptor,
    packetSize: opts.packetSize,
  });
  const est = await establishIdentity(session, { name: opts.name ?? 'alice', createKeyPair: makeKeyPair });
  return { session, transport, ...est };
}

const codes = (server: FakeServer) => server.log.map((r) => r.code);
const packets = (server: FakeServer) => server.log.filter((r) => r.code === RequestCode.SendFile);

describe('register and key exchange', () => {
  it('registers, sends the public key and unwraps the AES key the server made', async () => {
    const server = new FakeServer();
    const { session, clientId, aesKey, registered, reconnectRejected, keyPair } = await connected(server);
    expect(clientId).toHaveLength(16);
    expect(session.clientId).toEqual(clientId);
    expect(server.clients.get('alice')?.id).toEqual(clientId);
    expect(server.clients.get('alice')?.publicKey).toEqual(keyPair?.publicKeySpki);
    expect(aesKey).toHaveLength(32);
    expect(registered).toBe(true);
    expect(reconnectRejected).toBe(false);
    expect(codes(server)).toEqual([RequestCode.Register, RequestCode.SendPublicKey]);
    // 1026 carries the ID from 1600; 1025 carries zeros.
    expect(server.log[0]!.clientId).toBe('0'.repeat(32));
    expect(server.log[1]!.clientId).not.toBe('0'.repeat(32));
  });

  it('1601 on a taken name is CLIENT_ERR_NAME_TAKEN and the connection stays usable', async () => {
    const server = new FakeServer();
    await connected(server, { name: 'bob' });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    const e = await expectCode(session.register('bob'), 'CLIENT_ERR_NAME_TAKEN');
    expect(e.message).toContain('bob');
    expect(await session.register('bob2')).toHaveLength(16);
  });

  it('1601 when the server refuses any name', async () => {
    const server = new FakeServer({ refuseRegistration: true });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(session.register('carol'), 'CLIENT_ERR_NAME_TAKEN');
  });

  it('rejects names that cannot travel in the name field before sending anything', async () => {
    const server = new FakeServer();
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(session.register(''), 'CLIENT_ERR_INVALID_NAME');
    await expectCode(session.register('x'.repeat(101)), 'CLIENT_ERR_INVALID_NAME');
    await expectCode(session.register('tab\there'), 'CLIENT_ERR_INVALID_NAME');
    await expectCode(session.register('naïve'), 'CLIENT_ERR_INVALID_NAME');
    expect(server.log).toEqual([]);
  });

  it('decodes responses delivered one byte at a time', async () => {
    const server = new FakeServer({ splitResponses: true });
    const { session, aesKey } = await connected(server);
    const data = testBytes(5000);
    const res = await session.sendFile(bytesSource('split.bin', data), aesKey);
    expect(res.verified).toBe(true);
  });
});

describe('reconnect', () => {
  it('1605: reconnects with the stored ID and unwraps the new key with the old private key', async () => {
    const server = new FakeServer();
    const first = await connected(server, { name: 'dave' });
    const pair = first.keyPair!;
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    const events: string[] = [];
    const est = await establishIdentity(session, {
      name: 'dave',
      existing: { clientId: first.clientId },
      unwrap: pair.unwrap,
      createKeyPair: makeKeyPair,
      onEvent: (e) => events.push(e.type),
    });
    expect(est.registered).toBe(false);
    expect(est.reconnectRejected).toBe(false);
    expect(est.keyPair).toBeUndefined();
    expect(est.clientId).toEqual(first.clientId);
    expect(est.aesKey).not.toEqual(first.aesKey); // a new key per connection
    expect(events).toEqual(['reconnecting', 'reconnected']);
    expect(codes(server).slice(2)).toEqual([RequestCode.Reconnect]);
    expect(server.log[2]!.clientId).toBe(Buffer.from(first.clientId).toString('hex'));
    const data = testBytes(1000, 7);
    expect((await session.sendFile(bytesSource('r.bin', data), est.aesKey)).verified).toBe(true);
    expectBytes(server.files.get('dave/r.bin')?.bytes, data);
  });

  it('1606 from a server that does not know us: reports it, then registers anew', async () => {
    const oldServer = new FakeServer();
    const first = await connected(oldServer, { name: 'erin' });
    const server = new FakeServer(); // e.g. its database was wiped
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    const events: string[] = [];
    const est = await establishIdentity(session, {
      name: 'erin',
      existing: { clientId: first.clientId },
      unwrap: first.keyPair!.unwrap,
      createKeyPair: makeKeyPair,
      onEvent: (e) => events.push(e.type),
    });
    expect(est.reconnectRejected).toBe(true);
    expect(est.registered).toBe(true);
    expect(est.keyPair).toBeDefined();
    expect(est.clientId).not.toEqual(first.clientId);
    expect(events).toEqual([
      'reconnecting',
      'reconnect-rejected',
      'registering',
      'registered',
      'key-exchanged',
    ]);
    expect(codes(server)).toEqual([RequestCode.Reconnect, RequestCode.Register, RequestCode.SendPublicKey]);
    // The new registration's request carries zeros, the key exchange the new ID.
    expect(server.log[1]!.clientId).toBe('0'.repeat(32));
    const data = testBytes(333, 3);
    expect((await session.sendFile(bytesSource('n.bin', data), est.aesKey)).verified).toBe(true);
  });

  it("1606 with onRejected 'fail' is CLIENT_ERR_RECONNECT_REJECTED", async () => {
    const server = new FakeServer({ rejectReconnect: true });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    const pair = await makeKeyPair();
    await expectCode(
      establishIdentity(session, {
        name: 'frank',
        existing: { clientId: new Uint8Array(16).fill(1) },
        unwrap: pair.unwrap,
        createKeyPair: makeKeyPair,
        onRejected: 'fail',
      }),
      'CLIENT_ERR_RECONNECT_REJECTED',
    );
    expect(codes(server)).toEqual([RequestCode.Reconnect]);
  });

  it('reconnect() reports a rejection as accepted: false', async () => {
    const server = new FakeServer();
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    expect(await session.reconnect('ghost', new Uint8Array(16).fill(2))).toEqual({ accepted: false });
  });
});

describe('server errors and broken connections', () => {
  it('1607 is CLIENT_ERR_SERVER_ERROR and the connection stays usable', async () => {
    const server = new FakeServer({ serverErrorOn: [RequestCode.Register] });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(session.register('gina'), 'CLIENT_ERR_SERVER_ERROR');
    expect(session.closed).toBe(false);
    server.knobs = {};
    expect(await session.register('gina')).toHaveLength(16);
  });

  it('1607 to the key exchange', async () => {
    const server = new FakeServer({ serverErrorOn: [RequestCode.SendPublicKey] });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(
      establishIdentity(session, { name: 'hank', createKeyPair: makeKeyPair }),
      'CLIENT_ERR_SERVER_ERROR',
    );
  });

  it('an unexpected response code is CLIENT_ERR_UNEXPECTED_RESPONSE and closes the session', async () => {
    const server = new FakeServer({ answerWith: { [RequestCode.Register]: 1604 } });
    const transport = server.connect();
    const session = new ClientSession({ transport, encryptorFactory: webCryptoEncryptor });
    const e = await expectCode(session.register('ivy'), 'CLIENT_ERR_UNEXPECTED_RESPONSE');
    expect(e.details.responseCode).toBe(1604);
    expect(transport.isClosed).toBe(true);
    expect(session.closed).toBe(true);
    await expectCode(session.register('ivy'), 'CLIENT_ERR_SESSION_CLOSED');
  });

  it('1606 in answer to 1025 is unexpected', async () => {
    const server = new FakeServer({ answerWith: { [RequestCode.Register]: 1606 } });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(session.register('jo'), 'CLIENT_ERR_UNEXPECTED_RESPONSE');
  });

  it('bytes that are not a response are CLIENT_ERR_PROTOCOL', async () => {
    const server = new FakeServer({ garbageOn: RequestCode.Register });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(session.register('kim'), 'CLIENT_ERR_PROTOCOL');
    expect(session.closed).toBe(true);
  });

  it('the server closing mid-exchange is CLIENT_ERR_CONNECTION_CLOSED', async () => {
    const server = new FakeServer({ closeOn: RequestCode.SendPublicKey });
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await expectCode(
      establishIdentity(session, { name: 'lee', createKeyPair: makeKeyPair }),
      'CLIENT_ERR_CONNECTION_CLOSED',
    );
    await expectCode(session.register('lee2'), 'CLIENT_ERR_SESSION_CLOSED');
  });

  it('the server closing mid-file is CLIENT_ERR_CONNECTION_CLOSED', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server, { packetSize: 1024 });
    server.knobs = { closeOn: RequestCode.SendFile, closeAtPacket: 3 };
    await expectCode(
      session.sendFile(bytesSource('c.bin', testBytes(10_000)), aesKey),
      'CLIENT_ERR_CONNECTION_CLOSED',
    );
    expect(packets(server)).toHaveLength(3);
    expect(server.files.size).toBe(0);
  });

  it('the server closing while the client waits for 1603 is CLIENT_ERR_CONNECTION_CLOSED', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server, { packetSize: 1024 });
    server.knobs = { closeOn: RequestCode.SendFile, closeAtPacket: 10 };
    await expectCode(
      session.sendFile(bytesSource('c.bin', testBytes(10_000)), aesKey),
      'CLIENT_ERR_CONNECTION_CLOSED',
    );
  });

  it('1607 in the middle of a file stops the upload early with CLIENT_ERR_SERVER_ERROR', async () => {
    const server = new FakeServer();
    const { session, aesKey, transport } = await connected(server, { packetSize: 1024 });
    server.knobs = { serverErrorOn: [RequestCode.SendFile], errorAtPacket: 2 };
    await expectCode(
      session.sendFile(bytesSource('e.bin', testBytes(100_000)), aesKey),
      'CLIENT_ERR_SERVER_ERROR',
    );
    expect(packets(server).length).toBeLessThan(98);
    expect(transport.isClosed).toBe(true); // the sequence was half sent: the connection is closed
  });

  it('1607 instead of 1603', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { serverErrorOn: [RequestCode.SendFile] };
    await expectCode(
      session.sendFile(bytesSource('e.bin', testBytes(100)), aesKey),
      'CLIENT_ERR_SERVER_ERROR',
    );
  });

  it('a wrong answer to the last packet is CLIENT_ERR_UNEXPECTED_RESPONSE', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { answerWith: { [RequestCode.SendFile]: 1604 } };
    await expectCode(
      session.sendFile(bytesSource('u.bin', testBytes(100)), aesKey),
      'CLIENT_ERR_UNEXPECTED_RESPONSE',
    );
  });

  it('a 1028 on a connection without a key gets 1607', async () => {
    const server = new FakeServer();
    const session = new ClientSession({ transport: server.connect(), encryptorFactory: webCryptoEncryptor });
    await session.register('nokey');
    await expectCode(
      session.sendFile(bytesSource('k.bin', testBytes(10)), new Uint8Array(32)),
      'CLIENT_ERR_SERVER_ERROR',
    );
  });
});

describe('sending files', () => {
  it.each([0, 1, 15, 16, 17, 65_519, 65_520, 65_536, 200_000])(
    'a %i-byte file arrives intact and is verified',
    async (n) => {
      const server = new FakeServer();
      const { session, aesKey, clientId } = await connected(server);
      const data = testBytes(n, n + 1);
      const res = await session.sendFile(bytesSource('f.bin', data, [1000, 7, 65_536]), aesKey);
      expect(res).toEqual({
        fileName: 'f.bin',
        size: n,
        cksum: cksum(data),
        serverCksum: cksum(data),
        verified: true,
        attempts: 1,
      });
      const stored = server.files.get('alice/f.bin')!;
      expectBytes(stored.bytes, data);
      expect(stored.verified).toBe(true);
      const contentSize = 16 * (Math.floor(n / 16) + 1);
      const sent = packets(server);
      expect(sent).toHaveLength(Math.ceil(contentSize / 65_536));
      expect(sent.map((p) => p.packetNumber)).toEqual(sent.map((_, i) => i + 1));
      for (const p of sent) {
        expect(p).toMatchObject({ contentSize, origSize: n, totalPackets: sent.length });
        expect(p.clientId).toBe(Buffer.from(clientId).toString('hex'));
      }
      expect(sent.reduce((a, p) => a + p.contentLength!, 0)).toBe(contentSize);
      expect(codes(server).slice(-1)).toEqual([RequestCode.CrcOk]);
      expect(server.violations).toEqual([]);
    },
  );

  it('the empty file has the cksum of nothing and one 16-byte packet', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    const res = await session.sendFile(bytesSource('empty', new Uint8Array(0)), aesKey);
    expect(res.cksum).toBe(4294967295);
    expect(packets(server)).toMatchObject([
      { packetNumber: 1, totalPackets: 1, contentSize: 16, contentLength: 16 },
    ]);
  });

  it('multi-packet files with a small packet size and odd source chunks (WebCrypto and Node encryptors)', async () => {
    for (const encryptor of [webCryptoEncryptor, nodeEncryptor]) {
      const server = new FakeServer();
      const { session, aesKey } = await connected(server, { packetSize: 1000, encryptor });
      const data = testBytes(12_345, 9);
      await session.sendFile(bytesSource('m.bin', data, [1, 999, 3, 4096]), aesKey);
      expectBytes(server.files.get('alice/m.bin')?.bytes, data);
      const sent = packets(server);
      expect(sent).toHaveLength(13); // 12352 bytes of ciphertext in packets of 1000
      expect(sent.slice(0, -1).every((p) => p.contentLength === 1000)).toBe(true);
      expect(sent.at(-1)!.contentLength).toBe(352);
    }
  });

  it('a source chunk larger than the encryption slice is sliced', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server, { encryptor: nodeEncryptor });
    const data = testBytes(ENCRYPT_SLICE_SIZE * 2 + 100, 11);
    const events: SendProgress[] = [];
    await session.sendFile(bytesSource('big.bin', data, [data.length]), aesKey, {
      onProgress: (p) => events.push(p),
    });
    expectBytes(server.files.get('alice/big.bin')?.bytes, data);
    const reads = events.filter((e) => e.phase === 'sending').map((e) => e.bytesRead);
    expect(reads).toContain(ENCRYPT_SLICE_SIZE);
    expect(reads).toContain(ENCRYPT_SLICE_SIZE * 2);
  });

  it('several files on one connection', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    for (const [i, n] of [10, 70_000, 0].entries()) {
      const data = testBytes(n, i + 20);
      expect((await session.sendFile(bytesSource(`f${i}`, data), aesKey)).verified).toBe(true);
      expectBytes(server.files.get(`alice/f${i}`)?.bytes, data);
    }
    expect(server.connections).toBe(1);
  });

  it('reports progress through the phases; bytesSent ends at the ciphertext size', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    const events: SendProgress[] = [];
    await session.sendFile(bytesSource('p.bin', testBytes(200_000)), aesKey, {
      onProgress: (p) => events.push(p),
    });
    const phases = events.map((e) => e.phase);
    expect(phases[0]).toBe('sending');
    expect(phases.slice(-2)).toEqual(['verifying', 'verified']);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ bytesRead: 200_000, bytesSent: 200_016, size: 200_000, attempt: 1 });
    // Non-decreasing counters within the attempt.
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.bytesSent).toBeGreaterThanOrEqual(events[i - 1]!.bytesSent);
  });

  it('rejects a file name that cannot travel in the field', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    await expectCode(session.sendFile(bytesSource('ünï', testBytes(1)), aesKey), 'CLIENT_ERR_INVALID_NAME');
    await expectCode(
      session.sendFile(bytesSource('x'.repeat(255), testBytes(1)), aesKey),
      'CLIENT_ERR_INVALID_NAME',
    );
    expect(packets(server)).toHaveLength(0);
  });
});

describe('CRC mismatch and retries', () => {
  it.each([2, 3, 4])('succeeds on attempt %i after 1030 and a new sequence', async (attempt) => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server, { packetSize: 4096 });
    server.knobs = { wrongCrcTimes: attempt - 1 };
    const data = testBytes(10_000, attempt);
    const src = bytesSource('retry.bin', data);
    const events: SendProgress[] = [];
    const res = await session.sendFile(src, aesKey, { onProgress: (p) => events.push(p) });
    expect(res.attempts).toBe(attempt);
    expect(res.verified).toBe(true);
    expect(src.opened).toBe(attempt); // re-read from the start each time
    const tail = codes(server).slice(2);
    const expected: number[] = [];
    for (let i = 1; i <= attempt; i++) {
      expected.push(RequestCode.SendFile, RequestCode.SendFile, RequestCode.SendFile);
      expected.push(i < attempt ? RequestCode.CrcRetry : RequestCode.CrcOk);
    }
    expect(tail).toEqual(expected);
    // Each sequence numbers its packets from 1 again.
    expect(packets(server).map((p) => p.packetNumber)).toEqual(
      Array.from({ length: attempt }, () => [1, 2, 3]).flat(),
    );
    expect(server.files.get('alice/retry.bin')?.verified).toBe(true);
    expectBytes(server.files.get('alice/retry.bin')?.bytes, data);
    expect(events.filter((e) => e.phase === 'retrying').map((e) => e.attempt)).toEqual(
      Array.from({ length: attempt - 1 }, (_, i) => i + 1),
    );
    expect(events.at(-1)).toMatchObject({ phase: 'verified', attempt });
  });

  it('4 mismatches: 1031, 1604 and CLIENT_ERR_CRC_MISMATCH with both CRCs; server keeps nothing', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { wrongCrcTimes: 4 };
    const data = testBytes(777);
    const events: SendProgress[] = [];
    const e = await expectCode(
      session.sendFile(bytesSource('bad.bin', data), aesKey, { onProgress: (p) => events.push(p) }),
      'CLIENT_ERR_CRC_MISMATCH',
    );
    expect(e.details.attempts).toBe(4);
    expect(e.details.cksum).toBe(cksum(data));
    expect(e.details.serverCksum).toBe((cksum(data) ^ 0x5a5a) >>> 0);
    expect(codes(server).slice(2)).toEqual([
      RequestCode.SendFile,
      RequestCode.CrcRetry,
      RequestCode.SendFile,
      RequestCode.CrcRetry,
      RequestCode.SendFile,
      RequestCode.CrcRetry,
      RequestCode.SendFile,
      RequestCode.CrcAbort,
    ]);
    expect(server.files.size).toBe(0);
    expect(events.at(-1)).toMatchObject({ phase: 'failed', attempt: 4 });
    // The connection stays usable for the next file.
    expect(session.closed).toBe(false);
    expect((await session.sendFile(bytesSource('good.bin', data), aesKey)).verified).toBe(true);
  });

  it('tolerates a server that acknowledges 1030 with 1604', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { wrongCrcTimes: 2, thanksForRetry: true };
    const data = testBytes(50_000, 8);
    const res = await session.sendFile(bytesSource('ack.bin', data), aesKey);
    expect(res).toMatchObject({ verified: true, attempts: 3 });
    // ... and the connection stays in step for the next file.
    expect((await session.sendFile(bytesSource('next.bin', data), aesKey)).verified).toBe(true);
  });

  it('maxAttempts lowers the number of attempts', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { wrongCrcTimes: 9 };
    const e = await expectCode(
      session.sendFile(bytesSource('b', testBytes(5)), aesKey, { maxAttempts: 2 }),
      'CLIENT_ERR_CRC_MISMATCH',
    );
    expect(e.details.attempts).toBe(2);
  });
});

describe('cancellation and bad sources', () => {
  it('aborting mid-file stops sending, closes the connection and throws CLIENT_ERR_CANCELLED', async () => {
    const server = new FakeServer();
    const { session, aesKey, transport } = await connected(server, { packetSize: 1024 });
    const ac = new AbortController();
    const events: SendProgress[] = [];
    const p = session.sendFile(bytesSource('x.bin', testBytes(100_000), [4096]), aesKey, {
      signal: ac.signal,
      onProgress: (e) => {
        events.push(e);
        if (e.bytesSent > 10_000) ac.abort();
      },
    });
    await expectCode(p, 'CLIENT_ERR_CANCELLED');
    expect(transport.isClosed).toBe(true);
    expect(packets(server).length).toBeLessThan(20);
    expect(server.files.size).toBe(0);
    expect(events.at(-1)?.phase).toBe('cancelled');
    await expectCode(session.register('again'), 'CLIENT_ERR_SESSION_CLOSED');
  });

  it('aborting while waiting for 1603 is CLIENT_ERR_CANCELLED', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    server.knobs = { noAnswerTo: RequestCode.SendFile };
    const ac = new AbortController();
    const p = session.sendFile(bytesSource('w.bin', testBytes(10)), aesKey, {
      signal: ac.signal,
      onProgress: (e) => {
        if (e.phase === 'verifying') queueMicrotask(() => ac.abort());
      },
    });
    await expectCode(p, 'CLIENT_ERR_CANCELLED');
  });

  it('an already aborted signal sends nothing and keeps the session', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    await expectCode(
      session.sendFile(bytesSource('a', testBytes(5)), aesKey, { signal: AbortSignal.abort() }),
      'CLIENT_ERR_CANCELLED',
    );
    expect(packets(server)).toHaveLength(0);
    expect(session.closed).toBe(false);
  });

  it('a source shorter than declared is CLIENT_ERR_SOURCE', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    await expectCode(
      session.sendFile(bytesSource('s', testBytes(50), [10], 100), aesKey),
      'CLIENT_ERR_SOURCE',
    );
    expect(server.files.size).toBe(0);
  });

  it('a source longer than declared is CLIENT_ERR_SOURCE', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    await expectCode(
      session.sendFile(bytesSource('l', testBytes(150), [10], 100), aesKey),
      'CLIENT_ERR_SOURCE',
    );
    expect(server.files.size).toBe(0);
  });

  it('a source that fails to read is CLIENT_ERR_SOURCE and the source is not left open', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    const failing = {
      name: 'gone.bin',
      size: 100,
      open: () => {
        throw new Error('ENOENT: no such file');
      },
    };
    const e = await expectCode(session.sendFile(failing, aesKey), 'CLIENT_ERR_SOURCE');
    expect(e.message).toContain('ENOENT');
    let closed = false;
    const midway = {
      name: 'midway.bin',
      size: 100,
      async *open() {
        try {
          yield new Uint8Array(10);
          throw new Error('EIO: i/o error');
        } finally {
          closed = true;
        }
      },
    };
    const { session: s2, aesKey: k2 } = await connected(server, { name: 'bob' });
    expect((await expectCode(s2.sendFile(midway, k2), 'CLIENT_ERR_SOURCE')).message).toContain('EIO');
    expect(closed).toBe(true);
  });

  it('a file over MAX_FILE_SIZE is CLIENT_ERR_FILE_TOO_LARGE before anything is read or sent', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server);
    const src = bytesSource('huge', new Uint8Array(0), [1], MAX_FILE_SIZE + 1);
    await expectCode(session.sendFile(src, aesKey), 'CLIENT_ERR_FILE_TOO_LARGE');
    expect(src.opened).toBe(0);
    expect(packets(server)).toHaveLength(0);
  });
});

describe('packet size', () => {
  it('keeps the preferred size while at most 65535 packets are needed', () => {
    expect(choosePacketSize(16, 65_536)).toBe(65_536);
    expect(choosePacketSize(65_535 * 65_536, 65_536)).toBe(65_536);
    expect(choosePacketSize(65_535 * 1024, 1024)).toBe(1024);
  });

  it('raises it to a multiple of 16 of at least ceil(size / 65535)', () => {
    expect(choosePacketSize(65_535 * 65_536 + 1, 65_536)).toBe(65_552);
    expect(choosePacketSize(2 ** 32 - 16 + 16, 65_536)).toBe(65_552); // largest ciphertext
    expect(choosePacketSize(100_000_000, 1024)).toBe(1536); // ceil(1e8/65535) = 1526
    for (const size of [1_048_592, 4_000_000_000, 123_456_789]) {
      const p = choosePacketSize(size, 16);
      expect(p % 16).toBe(0);
      expect(Math.ceil(size / p)).toBeLessThanOrEqual(MAX_PACKETS);
    }
  });

  it('a file that would need more than 65535 packets goes in larger ones', async () => {
    const server = new FakeServer();
    const { session, aesKey } = await connected(server, { packetSize: 16, encryptor: nodeEncryptor });
    const data = testBytes(1024 * 1024, 5); // 1048592 bytes of ciphertext: 65537 packets of 16
    await session.sendFile(bytesSource('scaled.bin', data, [1024 * 1024]), aesKey);
    const sent = packets(server);
    expect(sent).toHaveLength(Math.ceil(1_048_592 / 32));
    expect(sent[0]).toMatchObject({ contentLength: 32, totalPackets: 32_769 });
    expectBytes(server.files.get('alice/scaled.bin')?.bytes, data);
  });
});
