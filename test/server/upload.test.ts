/** 1028..1031 against an in-process server: stored bytes, CRC, verification, broken sequences. */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cksum } from '../../lib/crypto';
import {
  ciphertextSize,
  encodeRequest,
  encodeRequestHeader,
  encodeSendFilePrefix,
  PROTOCOL_VERSION,
  RequestCode,
  ResponseCode,
} from '../../lib/protocol';
import { listReceivedFiles } from '../../server/files-command';
import {
  type Identity,
  type InProcessServer,
  RawClient,
  registerAndExchange,
  sendFile,
  startServer,
  systemCksum,
  tempDir,
  unwrapKey,
  waitFor,
} from '../support/server-helpers';

let srv: InProcessServer;
let work: ReturnType<typeof tempDir>;
beforeAll(async () => {
  // Broken uploads cost their source reconnect tokens (issue 14); these tests reconnect after many.
  srv = await startServer({ reconnectPerMinute: 100_000 });
  work = tempDir('sft-upload-src-');
});
afterAll(async () => {
  await srv.stop();
  work.remove();
});

let nameCounter = 0;
async function client(): Promise<{ c: RawClient; id: Identity }> {
  const c = await RawClient.connect(srv.port);
  const id = await registerAndExchange(c, `uploader-${++nameCounter}`);
  return { c, id };
}

function stored(id: Identity, fileName: string) {
  const hex = Buffer.from(id.clientId).toString('hex');
  return listReceivedFiles(srv.dataDir).find((f) => f.clientId === hex && f.fileName === fileName);
}

const crcOk = (id: Identity, fileName: string) =>
  encodeRequest({ code: RequestCode.CrcOk, clientId: id.clientId, fileName });

function tmpFiles(): string[] {
  return readdirSync(join(srv.dataDir, 'tmp'));
}

describe('upload and verify', () => {
  it.each([0, 1, 15, 16, 17, 1024 * 1024 + 37])(
    'stores %i bytes exactly, CRC as cksum, Verified after 1029',
    async (size) => {
      const { c, id } = await client();
      const data = randomBytes(size);
      const src = join(work.path, `src-${size}`);
      writeFileSync(src, data);
      const fileName = `file-${size}.bin`;
      await sendFile(c, id, { fileName, data });
      const r = await c.next();
      expect(r?.code).toBe(ResponseCode.FileReceived);
      if (r?.code !== ResponseCode.FileReceived) return;
      expect(r.fileName).toBe(fileName);
      expect(r.contentSize).toBe(ciphertextSize(size));
      expect(r.cksum).toBe(systemCksum(src));
      const row = stored(id, fileName)!;
      expect(row.verified).toBe(false);
      expect(row.size).toBe(size);
      expect(readFileSync(join(srv.dataDir, row.path)).equals(data)).toBe(true);
      expect((await c.request(crcOk(id, fileName)))?.code).toBe(ResponseCode.Thanks);
      expect(stored(id, fileName)!.verified).toBe(true);
      c.close();
    },
  );

  it('streams a 50 MiB file from disk: bytes and CRC equal the original', async () => {
    const { c, id } = await client();
    const src = join(work.path, 'big.bin');
    const hash = createHash('sha256');
    await new Promise<void>((res, rej) => {
      const ws = createWriteStream(src);
      ws.on('error', rej);
      for (let i = 0; i < 50; i++) {
        const chunk = randomBytes(1024 * 1024);
        hash.update(chunk);
        ws.write(chunk);
      }
      ws.end(res);
    });
    const size = 50 * 1024 * 1024;
    await sendFile(c, id, { fileName: 'big.bin', data: { path: src, size } });
    const r = await c.next(60_000);
    expect(r?.code).toBe(ResponseCode.FileReceived);
    if (r?.code !== ResponseCode.FileReceived) return;
    expect(r.cksum).toBe(systemCksum(src));
    const row = stored(id, 'big.bin')!;
    expect(
      createHash('sha256')
        .update(readFileSync(join(srv.dataDir, row.path)))
        .digest('hex'),
    ).toBe(hash.digest('hex'));
    expect((await c.request(crcOk(id, 'big.bin')))?.code).toBe(ResponseCode.Thanks);
    expect(stored(id, 'big.bin')!.verified).toBe(true);
    c.close();
  });

  it('stores frames shaped like the C++ reference client (64 KiB packets, last zero-padded, from 1)', async () => {
    const { c, id } = await client();
    const data = randomBytes(3 * 65536 + 1000);
    await sendFile(c, id, { fileName: 'ref.bin', data, packetSize: 65536, padLast: true, firstNumber: 1 });
    const r = await c.next();
    expect(r?.code).toBe(ResponseCode.FileReceived);
    if (r?.code !== ResponseCode.FileReceived) return;
    expect(r.cksum).toBe(cksum(data));
    expect(readFileSync(join(srv.dataDir, stored(id, 'ref.bin')!.path)).equals(data)).toBe(true);
    c.close();
  });

  it('accepts a sequence numbered from 0 and small packets', async () => {
    const { c, id } = await client();
    const data = randomBytes(10_000);
    await sendFile(c, id, { fileName: 'zero-based.bin', data, packetSize: 1024, firstNumber: 0 });
    const r = await c.next();
    expect(r?.code).toBe(ResponseCode.FileReceived);
    expect(readFileSync(join(srv.dataDir, stored(id, 'zero-based.bin')!.path)).equals(data)).toBe(true);
    c.close();
  });

  it('several files on one connection, and a new upload of a name replaces the old one', async () => {
    const { c, id } = await client();
    const first = randomBytes(5000);
    const second = randomBytes(7000);
    await sendFile(c, id, { fileName: 'same.txt', data: first });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    expect((await c.request(crcOk(id, 'same.txt')))?.code).toBe(ResponseCode.Thanks);
    const path1 = stored(id, 'same.txt')!.path;
    await sendFile(c, id, { fileName: 'same.txt', data: second });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    const row = stored(id, 'same.txt')!;
    expect(row.path).toBe(path1);
    expect(row.verified).toBe(false);
    expect(readFileSync(join(srv.dataDir, row.path)).equals(second)).toBe(true);
    c.close();
  });
});

describe('CRC mismatch paths', () => {
  it('1030 discards the attempt without answering; the resend is stored', async () => {
    const { c, id } = await client();
    const data = randomBytes(4096);
    await sendFile(c, id, { fileName: 'retry.bin', data });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    await c.send(encodeRequest({ code: RequestCode.CrcRetry, clientId: id.clientId, fileName: 'retry.bin' }));
    await sendFile(c, id, { fileName: 'retry.bin', data });
    // The next response is the resend's 1603: 1030 got none.
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    expect((await c.request(crcOk(id, 'retry.bin')))?.code).toBe(ResponseCode.Thanks);
    const row = stored(id, 'retry.bin')!;
    expect(row.verified).toBe(true);
    expect(readFileSync(join(srv.dataDir, row.path)).equals(data)).toBe(true);
    c.close();
  });

  it('1031 removes the file and answers 1604', async () => {
    const { c, id } = await client();
    await sendFile(c, id, { fileName: 'gone.bin', data: randomBytes(100) });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    const path = join(srv.dataDir, stored(id, 'gone.bin')!.path);
    expect(existsSync(path)).toBe(true);
    const r = await c.request(
      encodeRequest({ code: RequestCode.CrcAbort, clientId: id.clientId, fileName: 'gone.bin' }),
    );
    expect(r?.code).toBe(ResponseCode.Thanks);
    expect(stored(id, 'gone.bin')).toBeUndefined();
    expect(existsSync(path)).toBe(false);
    c.close();
  });

  it('1029 and 1031 for a file never sent get 1607; 1030 gets nothing; the connection stays usable', async () => {
    const { c, id } = await client();
    expect((await c.request(crcOk(id, 'never.bin')))?.code).toBe(ResponseCode.ServerError);
    await c.send(encodeRequest({ code: RequestCode.CrcRetry, clientId: id.clientId, fileName: 'never.bin' }));
    const r = await c.request(
      encodeRequest({ code: RequestCode.CrcAbort, clientId: id.clientId, fileName: 'never.bin' }),
    );
    expect(r?.code).toBe(ResponseCode.ServerError);
    expect(c.unread).toBe(0);
    await sendFile(c, id, { fileName: 'after.bin', data: randomBytes(10) });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    c.close();
  });
});

describe('broken uploads get one 1607 and store nothing', () => {
  /**
   * `keyLost`: a failure that depends on what the ciphertext decrypts to (padding, sizes)
   * costs the connection its key (a padding oracle otherwise, issue 14): the next 1028 gets
   * 1607 until a 1027.
   */
  async function expectRejected(c: RawClient, id: Identity, fileName: string, keyLost = false) {
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    expect(stored(id, fileName)).toBeUndefined();
    if (keyLost) {
      await sendFile(c, id, { fileName: 'no-key.bin', data: randomBytes(33) });
      expect((await c.next())?.code).toBe(ResponseCode.ServerError);
      const r = await c.request(
        encodeRequest({ code: RequestCode.Reconnect, clientId: id.clientId, name: id.name }),
      );
      if (r?.code !== ResponseCode.Reconnected) throw new Error(`reconnect: ${r?.code}`);
      id = { ...id, aesKey: unwrapKey(id.keys, r.encryptedKey) };
    }
    // Exactly one answer for the whole broken sequence, and the connection still works.
    await sendFile(c, id, { fileName: 'ok-after.bin', data: randomBytes(33) });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    expect(c.unread).toBe(0);
    await waitFor(() => tmpFiles().length === 0, 'the temp file to be removed');
  }

  it('1028 before any key exchange: 1607, connection usable', async () => {
    const c = await RawClient.connect(srv.port);
    const fake: Identity = {
      name: 'x',
      clientId: new Uint8Array(16).fill(1),
      keys: null as never,
      aesKey: randomBytes(32),
    };
    await sendFile(c, fake, { fileName: 'nokey.bin', data: randomBytes(200_000) });
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    expect(c.unread).toBe(0);
    expect(tmpFiles()).toEqual([]);
    const id = await registerAndExchange(c, `late-${++nameCounter}`);
    await sendFile(c, id, { fileName: 'nokey.bin', data: randomBytes(10) });
    expect((await c.next())?.code).toBe(ResponseCode.FileReceived);
    c.close();
  });

  it('a packet out of order', async () => {
    const { c, id } = await client();
    await sendFile(c, id, {
      fileName: 'ooo.bin',
      data: randomBytes(10 * 1024),
      packetSize: 1024,
      tamper: (i, f, content) => ({ fields: i === 3 ? { ...f, packetNumber: 6 } : f, content }),
    });
    await expectRejected(c, id, 'ooo.bin');
  });

  it('totals that change mid-file', async () => {
    const { c, id } = await client();
    await sendFile(c, id, {
      fileName: 'totals.bin',
      data: randomBytes(10 * 1024),
      packetSize: 1024,
      tamper: (i, f, content) => ({
        fields: i >= 4 ? { ...f, totalPackets: f.totalPackets + 1 } : f,
        content,
      }),
    });
    await expectRejected(c, id, 'totals.bin', true);
  });

  it('a wrong last byte (bad padding)', async () => {
    const { c, id } = await client();
    await sendFile(c, id, {
      fileName: 'padding.bin',
      data: randomBytes(5000),
      tamper: (_i, f, content) => {
        const out = Buffer.from(content);
        out[out.length - 1]! ^= 0xff;
        return { fields: f, content: out };
      },
    });
    await expectRejected(c, id, 'padding.bin', true);
  });

  it('content size that does not match the original size', async () => {
    const { c, id } = await client();
    await sendFile(c, id, {
      fileName: 'sizes.bin',
      data: randomBytes(100),
      tamper: (_i, f, content) => ({ fields: { ...f, origSize: 200 }, content }),
    });
    await expectRejected(c, id, 'sizes.bin', true);
  });

  it('a file that ends short of its content size', async () => {
    const { c, id } = await client();
    const prefix = encodeSendFilePrefix(
      {
        clientId: id.clientId,
        contentSize: 4096,
        origSize: 4000,
        packetNumber: 1,
        totalPackets: 1,
        fileName: 'short.bin',
      },
      1024,
    );
    await c.send(prefix, randomBytes(1024));
    await expectRejected(c, id, 'short.bin', true);
  });
});

describe('framing', () => {
  it('a declared payload over the limit gets 1607 and the connection is closed', async () => {
    const { c, id } = await client();
    const header = encodeRequestHeader({
      clientId: id.clientId,
      version: PROTOCOL_VERSION,
      code: RequestCode.SendFile,
      payloadSize: 0xffffffff,
    });
    await c.send(header);
    expect((await c.next())?.code).toBe(ResponseCode.ServerError);
    await c.closedPromise;
    expect(c.closed).toBe(true);
  });

  it('an unknown code or version gets 1607 and the connection is closed', async () => {
    for (const [version, code] of [
      [PROTOCOL_VERSION, 1999],
      [2, RequestCode.Register],
    ] as const) {
      const c = await RawClient.connect(srv.port);
      const h = encodeRequestHeader({ clientId: new Uint8Array(16), version, code, payloadSize: 0 });
      await c.send(h);
      expect((await c.next())?.code).toBe(ResponseCode.ServerError);
      await c.closedPromise;
    }
  });
});
