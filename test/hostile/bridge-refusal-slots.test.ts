/**
 * Refusal slots. A refused WebSocket (here a foreign Origin, 4003) is upgraded and sent a
 * close frame with its code, so the page can say why; the bridge then waits for the client's
 * answering close frame, up to ws's 5 s close timeout. Past --max-refusing (64) such
 * handshakes in flight it refuses at the HTTP level instead (403/503: a browser sees no
 * reason). Those slots were shared by everyone: one address that upgraded 64 times and never
 * answered held all of them, and every other client refused meanwhile, whatever it had done,
 * got the bare HTTP answer. Now one address (IPv6 /64) holds at most --max-refusing-per-ip (8);
 * its others get the HTTP answer, and another address is still told its close code.
 */
import { connect, type Socket } from 'node:net';
import { expect, it } from 'vitest';
import { silentTargetBridge } from '../support/silent-bridge';

const FLOOD = 64;
// All of them upgrade at once: the pending-upgrade cap is another test's limit.
const { bridge } = silentTargetBridge(['--max-pending-per-ip', String(FLOOD)]);

interface Refused {
  socket: Socket;
  /** The HTTP status line's code: 101 (upgraded, then closed by a close frame) or 403/503. */
  status: number;
  /** The close frame's code, once it came (101 only). */
  closeCode: Promise<number | null>;
}

/**
 * Upgrades from `localAddress` with a foreign Origin and reads the answer's status; after a 101,
 * the close frame's code. Never answers the close frame (the socket stays open until destroyed).
 */
function refusedUpgrade(localAddress: string): Promise<Refused> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: bridge().port, localAddress });
    socket.on('error', () => {});
    let got = Buffer.alloc(0);
    let status = 0;
    let settleClose: (code: number | null) => void = () => {};
    const closeCode = new Promise<number | null>((r) => {
      settleClose = r;
    });
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      if (status === 0) {
        status = Number(got.subarray(0, end).toString('latin1').split(' ')[1]);
        resolve({ socket, status, closeCode });
      }
      // A server's close frame: 0x88, its length (< 126), the code (u16) and the reason.
      const frame = got.subarray(end + 4);
      if (frame.length >= 4 && frame[0] === 0x88) settleClose(frame.readUInt16BE(2));
    });
    socket.once('close', () => {
      settleClose(null);
      if (status === 0) reject(new Error('closed before an answer'));
    });
    socket.write(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        'Origin: https://evil.example\r\n\r\n',
    );
  });
}

it(`${FLOOD} refusals from one address that never answer their close frames hold 8 slots; another address is still told its close code`, async () => {
  const flood = await Promise.all(Array.from({ length: FLOOD }, () => refusedUpgrade('127.0.0.1')));
  try {
    const upgraded = flood.filter((r) => r.status === 101);
    console.log(
      `${upgraded.length} of ${FLOOD} upgraded and closed with a code, the rest HTTP ${flood.find((r) => r.status !== 101)?.status}`,
    );
    expect(upgraded.length).toBe(8);
    expect(flood.filter((r) => r.status === 403).length).toBe(FLOOD - 8);
    for (const r of upgraded) expect(await r.closeCode).toBe(4003);

    // Within the flood's 5 s: another address refused the same way gets the WebSocket close,
    // with the code a page turns into a sentence; before, it got HTTP 403 and no reason.
    const other = await refusedUpgrade('127.0.0.2');
    expect(other.status).toBe(101);
    expect(await other.closeCode).toBe(4003);
    other.socket.destroy();
  } finally {
    for (const r of flood) r.socket.destroy();
  }
});
