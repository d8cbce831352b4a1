/**
 * CPU profile of the browser upload's worker: runs the same /bench upload as `npm run bench`
 * (fresh server, bridge, next start) but opens the page over the Chrome DevTools Protocol,
 * attached only to the upload worker's Profiler (lighter than Playwright, which instruments
 * every WebSocket frame). Writes a .cpuprofile and prints a summary with a snippet of the
 * (minified) code at each hot spot.
 * Usage: tsx bench/profile-browser.ts [MiB=256] [OUT=/tmp/sft-worker.cpuprofile]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CHROMIUM, CHROMIUM_FLAGS } from './chromium';
import { killAll } from './procs';
import { browserUpload, type PageRunner } from './uploads';

const sizeMiB = Number(process.argv[2] ?? 256);
const out = process.argv[3] ?? '/tmp/sft-worker.cpuprofile';

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: unknown;
  sessionId?: string;
}

const cdpRunner: PageRunner = async (url, result, timeoutMs, beforeClose) => {
  const profileDir = mkdtempSync(join(tmpdir(), 'sft-bench-cdp-'));
  const proc = spawn(
    CHROMIUM,
    [...CHROMIUM_FLAGS, '--remote-debugging-port=0', `--user-data-dir=${profileDir}`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  try {
    const endpoint = await new Promise<string>((res, rej) => {
      let err = '';
      proc.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) res(m[1]!);
      });
      proc.once('exit', () => rej(new Error(`Chromium exited: ${err}`)));
    });
    const ws = new WebSocket(endpoint, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await new Promise((r) => ws.once('open', r));
    let nextId = 1;
    const pending = new Map<number, (m: CdpMessage) => void>();
    const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
      new Promise<CdpMessage>((res) => {
        const id = nextId++;
        pending.set(id, res);
        ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
      });
    let workerSession: string | undefined;
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as CdpMessage;
      if (m.id !== undefined) {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
        return;
      }
      if (m.method === 'Target.attachedToTarget') {
        const info = m.params!.targetInfo as { type: string };
        const sid = m.params!.sessionId as string;
        if (info.type === 'worker' && !workerSession) {
          workerSession = sid;
          void (async () => {
            await send('Profiler.enable', {}, sid);
            await send('Profiler.setSamplingInterval', { interval: 500 }, sid);
            await send('Profiler.start', {}, sid);
            await send('Runtime.runIfWaitingForDebugger', {}, sid);
            process.stderr.write('[profile] profiling the upload worker\n');
          })();
        } else {
          void send('Runtime.runIfWaitingForDebugger', {}, sid);
        }
      }
    });
    const created = await send('Target.createTarget', { url: 'about:blank' });
    const targetId = created.result!.targetId as string;
    const attached = await send('Target.attachToTarget', { targetId, flatten: true });
    const pageSession = attached.result!.sessionId as string;
    await send(
      'Target.setAutoAttach',
      { autoAttach: true, waitForDebuggerOnStart: true, flatten: true },
      pageSession,
    );
    await send('Page.navigate', { url }, pageSession);
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    // The page shows its result (JSON) for a while before navigating away (delay=...), which
    // would end the worker: stop the profiler as soon as the result is on the page.
    for (;;) {
      const r = await send(
        'Runtime.evaluate',
        { expression: "document.getElementById('bench-status')?.textContent ?? ''", returnByValue: true },
        pageSession,
      );
      const text = String((r.result?.result as { value?: unknown } | undefined)?.value ?? '');
      if (text.startsWith('{')) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    if (workerSession) {
      const stopped = await send('Profiler.stop', {}, workerSession);
      writeFileSync(out, JSON.stringify(stopped.result!.profile));
      process.stderr.write(`[profile] wrote ${out}\n`);
    }
    const value = await result;
    clearTimeout(timer);
    if (beforeClose && proc.pid !== undefined) beforeClose(proc.pid);
    ws.close();
    return value;
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 500));
    try {
      rmSync(profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {
      // harmless
    }
  }
};

const work = mkdtempSync(join(tmpdir(), 'sft-bench-prof-'));
try {
  const r = await browserUpload(work, sizeMiB, cdpRunner, '&delay=3000');
  console.log(JSON.stringify(r, null, 2));
} finally {
  killAll();
  rmSync(work, { recursive: true, force: true });
}
