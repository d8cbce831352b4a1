/**
 * Chromium's own limits: WebCrypto AES-CBC in 64 KiB calls, and WebSocket send throughput
 * to a Node server that discards what it gets (64 KiB + 290-byte messages, as our packets).
 */
import { WebSocketServer } from 'ws';
import { resultServer, runInChromium } from './chromium';

const PAGE = (wsUrl: string, totalMiB: number) => `<!doctype html><meta charset="utf-8"><script type="module">
const MiB = 1024 * 1024;
const total = ${totalMiB} * MiB;
async function aes() {
  const key = await crypto.subtle.generateKey({ name: 'AES-CBC', length: 256 }, false, ['encrypt']);
  const chunk = new Uint8Array(64 * 1024);
  crypto.getRandomValues(chunk);
  let iv = new Uint8Array(16);
  const t0 = performance.now();
  for (let done = 0; done < total; done += chunk.length) {
    const out = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, chunk));
    iv = out.subarray(out.length - 32, out.length - 16);
  }
  return total / MiB / ((performance.now() - t0) / 1000);
}
async function ws() {
  const sock = new WebSocket(${JSON.stringify(wsUrl)});
  sock.binaryType = 'arraybuffer';
  await new Promise((r, j) => { sock.onopen = r; sock.onerror = j; });
  const done = new Promise((r) => { sock.onmessage = r; });
  const msg = new Uint8Array(64 * 1024 + 290);
  const t0 = performance.now();
  for (let sent = 0; sent < total; sent += msg.length) {
    sock.send(msg);
    while (sock.bufferedAmount > 8 * MiB) await new Promise((r) => setTimeout(r, 1));
  }
  await done;
  sock.close();
  return total / MiB / ((performance.now() - t0) / 1000);
}
const result = { webCryptoAesCbc: await aes(), webSocketSend: await ws() };
await fetch('/result', { method: 'POST', body: JSON.stringify(result) });
</script>`;

export async function browserLimits(
  totalMiB: number,
): Promise<{ webCryptoAesCbc: number; webSocketSend: number }> {
  const wss = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    perMessageDeflate: false,
    maxPayload: 1 << 20,
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
    return (await runInChromium(`http://127.0.0.1:${port}/`, result, 300_000)) as {
      webCryptoAesCbc: number;
      webSocketSend: number;
    };
  } finally {
    server.close();
    wss.close();
  }
}
