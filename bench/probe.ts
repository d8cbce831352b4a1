/**
 * Server responsiveness probe, run as its own process during the concurrency test so its
 * timings are not inflated by the bench's own busy event loop: again and again, a new
 * client connects, registers (1025), sends its public key (1026) and unwraps the AES key.
 * Prints one JSON line per probe: {"end": epoch ms, "ms": N} (or with "error"). Stops on SIGTERM.
 * Usage: tsx bench/probe.ts PORT
 */
import { randomBytes } from 'node:crypto';
import { createKeyPair } from '../cli/node-crypto';
import { TcpTransport } from '../cli/tcp-transport';
import { ClientSession, establishIdentity } from '../lib/client';

const PAUSE_MS = 100;

const port = Number(process.argv[2]);
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

// The key pair is made once up front: what is timed is the server's side and the round trips.
const pair = await createKeyPair();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
while (!stopping) {
  const t0 = performance.now();
  let session: ClientSession | undefined;
  try {
    const transport = await TcpTransport.connect('127.0.0.1', port);
    session = new ClientSession({
      transport,
      encryptorFactory: () => ({ update: (c) => c, final: () => new Uint8Array() }),
    });
    await establishIdentity(session, {
      name: `probe-${randomBytes(6).toString('hex')}`,
      createKeyPair: async () => pair,
    });
    process.stdout.write(`${JSON.stringify({ end: Date.now(), ms: performance.now() - t0 })}\n`);
  } catch (e) {
    process.stdout.write(`${JSON.stringify({ end: Date.now(), error: (e as Error).message })}\n`);
  } finally {
    session?.close();
  }
  await new Promise((r) => setTimeout(r, PAUSE_MS));
}
process.exit(0);
