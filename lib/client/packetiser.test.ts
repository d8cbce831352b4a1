import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeRequestHeader,
  REQUEST_HEADER_SIZE,
  RequestCode,
  SEND_FILE_FIXED_SIZE,
  type SendFileRequest,
} from '../protocol';
import { ClientError } from './errors';
import { Packetiser } from './packetiser';

const clientId = new Uint8Array(16).fill(7);

/** A packetiser whose sent packets are decoded and kept, content joined. */
function recording(contentSize: number, packetSize: number, beforePacket: (n: number) => void = () => {}) {
  const sent: { req: SendFileRequest; content: Uint8Array; parts: number }[] = [];
  const p = new Packetiser({
    clientId,
    fileName: 'a.bin',
    origSize: contentSize - 1,
    contentSize,
    packetSize,
    beforePacket,
    send: async (parts) => {
      const joined = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
      let off = 0;
      for (const x of parts) {
        joined.set(x, off);
        off += x.length;
      }
      const header = decodeRequestHeader(joined.subarray(0, REQUEST_HEADER_SIZE));
      expect(header.code).toBe(RequestCode.SendFile);
      expect(header.payloadSize).toBe(joined.length - REQUEST_HEADER_SIZE);
      const req = decodeRequest(
        header,
        joined.subarray(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE),
      ) as SendFileRequest;
      sent.push({
        req,
        content: joined.slice(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE),
        parts: parts.length,
      });
    },
  });
  return { p, sent };
}

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 256);

describe('Packetiser', () => {
  it('cuts ciphertext pushed in any chunking into numbered packets of the size, the last shorter', async () => {
    const data = bytes(1000);
    for (const cut of [1, 16, 100, 256, 999, 1000]) {
      const { p, sent } = recording(1000, 256);
      for (let i = 0; i < data.length; i += cut) await p.push(data.subarray(i, i + cut));
      await p.end();
      expect(sent.map((s) => s.req.packetNumber)).toEqual([1, 2, 3, 4]);
      expect(sent.map((s) => s.content.length)).toEqual([256, 256, 256, 232]);
      expect(sent.every((s) => s.req.totalPackets === 4 && s.req.contentSize === 1000)).toBe(true);
      expect(sent.every((s) => s.req.origSize === 999 && s.req.fileName === 'a.bin')).toBe(true);
      const all = new Uint8Array(1000);
      sent.forEach((s, i) => {
        all.set(s.content, i * 256);
      });
      expect(all).toEqual(data);
      expect(p.bytesSent).toBe(1000);
      expect(p.packetsSent).toBe(4);
    }
  });

  it('does not copy: a packet is its prefix and slices of the chunks as pushed', async () => {
    const { p, sent } = recording(512, 512);
    await p.push(bytes(200));
    await p.push(bytes(312));
    await p.end();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.parts).toBe(3);
  });

  it('raises the packet size for files that would need more than 65535 packets', () => {
    const { p } = recording(65_535 * 64 + 16, 64);
    expect(p.packetSize).toBe(80);
    expect(p.totalPackets).toBe(Math.ceil((65_535 * 64 + 16) / 80));
  });

  it('asks before every packet, and a throw there stops the sequence before that packet', async () => {
    const asked: number[] = [];
    const { p, sent } = recording(64, 16, (n) => {
      asked.push(n);
      if (n === 3) throw new Error('stop');
    });
    await p.push(bytes(32));
    await expect(p.push(bytes(32))).rejects.toThrow('stop');
    expect(asked).toEqual([1, 2, 3]);
    expect(sent).toHaveLength(2);
  });

  it('more ciphertext than announced, or less, is CLIENT_ERR_SOURCE', async () => {
    const over = recording(32, 16);
    await over.p.push(bytes(32));
    const e = await over.p.push(bytes(16)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).code).toBe('CLIENT_ERR_SOURCE');
    const under = recording(48, 16);
    await under.p.push(bytes(40));
    await expect(under.p.end()).rejects.toMatchObject({ code: 'CLIENT_ERR_SOURCE' });
  });
});
