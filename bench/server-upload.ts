/**
 * Server throughput and memory, by hand: `npx tsx bench/server-upload.ts [MiB ...]`.
 * Spawns the server as its own process, registers a raw client, and sends a file of each
 * size whose ciphertext was prepared beforehand (so the client costs little CPU and the
 * figure is the server's: receive, decrypt, cksum, write, fsync). Prints MiB/s and the
 * server's peak RSS (VmHWM) after each upload. Not part of `vitest run`.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ciphertextSize, encodeSendFilePrefix, ResponseCode, ZERO_IV } from '../lib/protocol';
import { RawClient, registerAndExchange, spawnServer, tempDir } from '../test/support/server-helpers';

const PACKET = 64 * 1024;

async function writeCiphertext(path: string, size: number, key: Buffer): Promise<void> {
  const cipher = createCipheriv('aes-256-cbc', key, ZERO_IV);
  const ws = createWriteStream(path);
  const block = randomBytes(1 << 20);
  for (let done = 0; done < size; done += block.length) {
    const n = Math.min(block.length, size - done);
    if (!ws.write(cipher.update(block.subarray(0, n))))
      await new Promise<void>((r) => ws.once('drain', () => r()));
  }
  ws.write(cipher.final());
  await new Promise<void>((r) => ws.end(() => r()));
}

/** User+system CPU seconds of a process so far (all its threads). */
function cpuSeconds(pid: number): number {
  const [user, system] = cpuSplit(pid);
  return user + system;
}

/** [user, system] CPU seconds of a process so far. */
function cpuSplit(pid: number): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return [Number(fields[11]) / 100, Number(fields[12]) / 100];
}

function peakRss(pid: number): string {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? `${(Number(m[1]) / 1024).toFixed(0)} MiB` : '?';
}

async function main() {
  const sizes = process.argv.slice(2).map(Number);
  if (sizes.length === 0) sizes.push(100, 1024);
  const work = tempDir('sft-bench-');
  // SFT_BENCH_PORT: measure a server started by hand (for example under --cpu-prof).
  const external = process.env.SFT_BENCH_PORT;
  const srv = external
    ? { port: Number(external), proc: { pid: Number(process.env.SFT_BENCH_PID) }, stop: async () => null }
    : await spawnServer(['--port', '0', '--data', join(work.path, 'data')], work.path);
  try {
    for (const mib of sizes) {
      // A fresh client per size; each server process gets measured from its start.
      const c = await RawClient.connect(srv.port);
      const id = await registerAndExchange(c, `bench-${mib}-${Date.now()}`);
      const size = mib * 1024 * 1024 + 5;
      const ct = join(work.path, `ct-${mib}`);
      await writeCiphertext(ct, size, id.aesKey);
      const contentSize = ciphertextSize(size);
      const totalPackets = Math.ceil(contentSize / PACKET);
      const pid = srv.proc.pid as number;
      const cpu0 = cpuSeconds(pid);
      const split0 = cpuSplit(pid);
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 1;
      // Chunks of exactly PACKET bytes (the last one shorter) go out as they are: no copies.
      for await (const content of createReadStream(ct, { highWaterMark: PACKET })) {
        const prefix = encodeSendFilePrefix(
          {
            clientId: id.clientId,
            contentSize,
            origSize: size,
            packetNumber: n++,
            totalPackets,
            fileName: `bench-${mib}.bin`,
          },
          content.length,
        );
        await c.send(prefix, content);
      }
      const r = await c.next(600_000);
      const s = (performance.now() - t0) / 1000;
      if (r?.code !== ResponseCode.FileReceived) throw new Error(`upload failed: ${r?.code}`);
      const serverCpu = cpuSeconds(pid) - cpu0;
      const split = cpuSplit(pid);
      const userSys = `user ${(split[0] - split0[0]).toFixed(2)} + system ${(split[1] - split0[1]).toFixed(2)}`;
      const own = process.cpuUsage(own0);
      console.log(
        `${mib} MiB: ${(mib / s).toFixed(0)} MiB/s (${s.toFixed(2)} s); server CPU ${serverCpu.toFixed(2)} s, ${userSys} ` +
          `(= ${(mib / serverCpu).toFixed(0)} MiB per CPU-second), bench client CPU ${((own.user + own.system) / 1e6).toFixed(2)} s; ` +
          `server peak RSS ${peakRss(pid)}`,
      );
      c.close();
    }
  } finally {
    await srv.stop();
    work.remove();
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
