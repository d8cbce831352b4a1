/**
 * The server's and the CLI's node:crypto record cipher (platform/node-gcm.ts) seals the same
 * bytes as lib/v4's WebCrypto default, each opens the other's, and a flipped bit is refused.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RECORD_SIZE } from '../../lib/protocol/v4/constants';
import { StreamOpener, StreamSealer, webCryptoRecordAead } from '../../lib/v4/stream';
import { nodeRecordAead } from '../../platform/node-gcm';

const params = () => ({
  fileKey: new Uint8Array(randomBytes(32)),
  binding: new Uint8Array(randomBytes(32)),
  uploadId: new Uint8Array(randomBytes(16)),
  size: RECORD_SIZE + 5,
});

describe('node:crypto record AEAD', () => {
  it('agrees with WebCrypto byte for byte, both ways', async () => {
    const p = params();
    const records = [new Uint8Array(randomBytes(RECORD_SIZE)), new Uint8Array(randomBytes(5))];
    const web = new StreamSealer(p);
    const node = new StreamSealer({ ...p, aead: nodeRecordAead });
    const sealed = [];
    for (const [i, r] of records.entries()) {
      const a = await web.seal(i, r);
      expect(Buffer.from(await node.seal(i, r)).equals(Buffer.from(a))).toBe(true);
      sealed.push(a);
    }
    for (const aead of [nodeRecordAead, webCryptoRecordAead]) {
      const opener = new StreamOpener({ ...p, start: 0, aead });
      for (const [i, s] of sealed.entries())
        expect(Buffer.from(await opener.open(s)).equals(Buffer.from(records[i]!))).toBe(true);
      expect(opener.complete).toBe(true);
    }
  });

  it("sealParts gives seal()'s bytes in pieces (node:crypto without the join, WebCrypto as one piece)", async () => {
    const p = params();
    const records = [new Uint8Array(randomBytes(RECORD_SIZE)), new Uint8Array(randomBytes(5))];
    const web = new StreamSealer(p);
    const node = new StreamSealer({ ...p, aead: nodeRecordAead });
    await node.ready();
    await web.ready();
    for (const [i, r] of records.entries()) {
      const whole = Buffer.from(await web.seal(i, r));
      const parts = await node.sealParts(i, r);
      expect(parts.length).toBe(2);
      expect(parts[1]!.length).toBe(16);
      expect(Buffer.concat(parts).equals(whole)).toBe(true);
      const webParts = await web.sealParts(i, r);
      expect(webParts.length).toBe(1);
      expect(Buffer.from(webParts[0]!).equals(whole)).toBe(true);
    }
    // The same rules as seal(): a wrong length or an index past the end is refused.
    await expect(node.sealParts(0, new Uint8Array(3))).rejects.toThrow(/must be/);
    await expect(node.sealParts(2, new Uint8Array(0))).rejects.toThrow(/must be/);
  });

  it('sealParts reads the record before it returns: refilling the buffer at once changes nothing', async () => {
    const p = { ...params(), size: 2 * RECORD_SIZE };
    const a = new Uint8Array(randomBytes(RECORD_SIZE));
    const b = new Uint8Array(randomBytes(RECORD_SIZE));
    const node = new StreamSealer({ ...p, aead: nodeRecordAead });
    await node.ready();
    const buf = new Uint8Array(RECORD_SIZE);
    buf.set(a);
    const first = node.sealParts(0, buf);
    buf.set(b);
    const second = node.sealParts(1, buf);
    const opener = new StreamOpener({ ...p, start: 0, aead: nodeRecordAead });
    expect(Buffer.from(await opener.open(Buffer.concat(await first))).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(await opener.open(Buffer.concat(await second))).equals(Buffer.from(b))).toBe(true);
  });

  it('refuses a flipped bit and a record out of order', async () => {
    const p = params();
    const sealer = new StreamSealer({ ...p, aead: nodeRecordAead });
    const first = await sealer.seal(0, new Uint8Array(RECORD_SIZE));
    const bad = first.slice();
    bad[100]! ^= 1;
    await expect(new StreamOpener({ ...p, start: 0, aead: nodeRecordAead }).open(bad)).rejects.toThrow(
      /did not verify/,
    );
    const second = await sealer.seal(1, new Uint8Array(5));
    await expect(new StreamOpener({ ...p, start: 0, aead: nodeRecordAead }).open(second)).rejects.toThrow();
  });
});
