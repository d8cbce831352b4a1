/**
 * Chromium's own limits: WebCrypto AES-CBC in 64 KiB calls (and in the upload worker's
 * 512 KiB), WebCrypto AES-256-GCM seal and open of protocol v4's 256 KiB records (one call
 * at a time, and four in flight as a v4 sender keeps them), and WebSocket send throughput to a Node server that discards what it gets, in
 * 64 KiB + 290-byte messages (the protocol's customary packet) and in 1 MiB + 290-byte ones
 * (the packets the app sends).
 */
import { WebSocketServer } from 'ws';
import { RECORD_SIZE } from '../lib/protocol/v4/constants';
import { resultServer, runInChromium } from './chromium';

const PAGE = (wsUrl: string, totalMiB: number) => `<!doctype html><meta charset="utf-8"><script type="module">
const MiB = 1024 * 1024;
const total = ${totalMiB} * MiB;
async function aes(size) {
  const key = await crypto.subtle.generateKey({ name: 'AES-CBC', length: 256 }, false, ['encrypt']);
  const chunk = new Uint8Array(size);
  crypto.getRandomValues(chunk.subarray(0, 65536)); // at most 64 KiB per call
  let iv = new Uint8Array(16);
  const t0 = performance.now();
  for (let done = 0; done < total; done += chunk.length) {
    const out = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, chunk));
    iv = out.subarray(out.length - 32, out.length - 16);
  }
  return total / MiB / ((performance.now() - t0) / 1000);
}
async function gcm(op, size, depth) {
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const iv = new Uint8Array(12);
  const plain = new Uint8Array(size);
  crypto.getRandomValues(plain.subarray(0, 65536));
  const input = op === 'encrypt' ? plain : new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, plain));
  const pending = [];
  const t0 = performance.now();
  for (let done = 0; done < total; done += size) {
    pending.push(crypto.subtle[op]({ name: 'AES-GCM', iv }, key, input));
    if (pending.length >= depth) await pending.shift();
  }
  await Promise.all(pending);
  return total / MiB / ((performance.now() - t0) / 1000);
}
async function ws(size) {
  const sock = new WebSocket(${JSON.stringify(wsUrl)});
  sock.binaryType = 'arraybuffer';
  await new Promise((r, j) => { sock.onopen = r; sock.onerror = j; });
  const done = new Promise((r) => { sock.onmessage = r; });
  const msg = new Uint8Array(size);
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += msg.length) {
    sock.send(msg);
    while (sock.bufferedAmount > 8 * MiB) await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  sock.close();
  return total / MiB / ((performance.now() - t0) / 1000);
}
const result = {
  webCryptoAesCbc: await aes(64 * 1024),
  webCryptoAesCbc512k: await aes(512 * 1024),
  webCryptoGcmSeal: await gcm('encrypt', ${RECORD_SIZE}, 1),
  webCryptoGcmSeal4: await gcm('encrypt', ${RECORD_SIZE}, 4),
  webCryptoGcmOpen: await gcm('decrypt', ${RECORD_SIZE}, 1),
  webCryptoGcmOpen4: await gcm('decrypt', ${RECORD_SIZE}, 4),
  webSocketSend: await ws(64 * 1024 + 290),
  webSocketSend1m: await ws(MiB + 290),
};
await fetch('/result', { method: 'POST', body: JSON.stringify(result) });
</script>`;

export interface BrowserLimits {
  webCryptoAesCbc: number;
  webCryptoAesCbc512k: number;
  /** AES-256-GCM at v4's record size, one call at a time / four in flight (MiB/s). */
  webCryptoGcmSeal: number;
  webCryptoGcmSeal4: number;
  webCryptoGcmOpen: number;
  webCryptoGcmOpen4: number;
  webSocketSend: number;
  webSocketSend1m: number;
}

export async function browserLimits(totalMiB: number): Promise<BrowserLimits> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 2 << 20,
  });
  await new Promise((r) => wss.once('listening', r));
  const wsPort = (wss.address() as { port: number }).port;
  wss.on('connection', (sock) => {
    let got = 0;
    sock.on('message', (data: Buffer) => {
      got += data.length;
      if (got >= totalMiB * 1024 * 1024) sock.send('done');
    });
  });
  const page = PAGE(`ws://127.0.0.1:${wsPort}`, totalMiB);
  const { server, port, result } = await resultServer((req, res) => {
    if (req.url !== '/') return false;
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    return true;
  });
  try {
    return (await runInChromium(`http://127.0.0.1:${port}/`, result, 300_000)) as BrowserLimits;
  } finally {
    server.close();
    wss.close();
  }
}
