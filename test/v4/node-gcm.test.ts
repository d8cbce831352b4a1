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
