/** The reference client's packet shape for foreign v3 servers: the last packet zero-padded. */
import { describe, expect, it } from 'vitest';
import { decodeRequestHeader, REQUEST_HEADER_SIZE, SEND_FILE_FIXED_SIZE } from '../protocol';
import { Packetiser } from './packetiser';

async function packets(contentSize: number, padLast: boolean): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const p = new Packetiser({
    clientId: new Uint8Array(16),
    fileName: 'a.bin',
    origSize: contentSize - 1,
    contentSize,
    packetSize: 64,
    padLast,
    beforePacket: () => {},
    send: async (parts) => {
      const joined = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
      let at = 0;
      for (const x of parts) {
        joined.set(x, at);
        at += x.length;
      }
      out.push(joined);
    },
  });
  await p.push(new Uint8Array(contentSize).fill(0xaa));
  await p.end();
  return out;
}

describe('padLast', () => {
  it('pads the last packet of a multi-packet file with zeros to the packet size', async () => {
    const sent = await packets(160, true);
    expect(sent.map((f) => decodeRequestHeader(f.subarray(0, REQUEST_HEADER_SIZE)).payloadSize)).toEqual([
      SEND_FILE_FIXED_SIZE + 64,
      SEND_FILE_FIXED_SIZE + 64,
      SEND_FILE_FIXED_SIZE + 64,
    ]);
    const last = sent[2]!.subarray(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE);
    expect([...last.subarray(0, 32)].every((b) => b === 0xaa)).toBe(true);
    expect([...last.subarray(32)].every((b) => b === 0)).toBe(true);
  });

  it('leaves a one-packet file and the default shape unpadded', async () => {
    expect((await packets(48, true))[0]!.length).toBe(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE + 48);
    expect((await packets(160, false))[2]!.length).toBe(REQUEST_HEADER_SIZE + SEND_FILE_FIXED_SIZE + 32);
  });
});
