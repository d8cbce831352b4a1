/**
 * Runs a page in headless Chromium *without* Playwright attached (Playwright's
 * instrumentation cuts WebSocket throughput about four-fold) and waits for the page to
 * POST its JSON result back to us.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CHROMIUM_BASE_FLAGS, CHROMIUM_PATH } from '../test/support/chromium';

export const CHROMIUM = CHROMIUM_PATH;

export const CHROMIUM_FLAGS = [
  '--headless=new',
  ...CHROMIUM_BASE_FLAGS,
  '--disable-extensions',
  '--enable-precise-memory-info',
];
/**
 * A tiny HTTP server that receives the page's result on POST /result, or as
 * GET /result?data=JSON (a navigation: pages whose CSP limits connect-src report that way).
 */
export async function resultServer(
  routes: (req: IncomingMessage, res: ServerResponse) => boolean = () => false,
): Promise<{ server: Server; port: number; result: Promise<unknown> }> {
  let resolve!: (v: unknown) => void;
  const result = new Promise<unknown>((r) => {
    resolve = r;
  });
  const server = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/result') {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        res.writeHead(204, { 'access-control-allow-origin': '*' }).end();
        resolve(JSON.parse(body));
      });
      return;
    }
    if (req.method === 'GET' && req.url?.startsWith('/result?')) {
      const data = new URL(req.url, 'http://127.0.0.1').searchParams.get('data');
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end('Result received; the bench closes this browser.');
      try {
        resolve(JSON.parse(data ?? 'null'));
      } catch {
        resolve({ error: `unparsable result: ${data}` });
      }
      return;
    }
    if (req.method === 'OPTIONS') {
      res
        .writeHead(204, {
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'POST',
          'access-control-allow-headers': 'content-type',
        })
        .end();
      return;
    }
    if (!routes(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, result };
}

/**
 * Opens `url` in headless Chromium until `result` settles (or `timeoutMs` passes).
 * `beforeClose` runs with Chromium's PID while it is still running (to read its processes' memory).
 */
export async function runInChromium<T>(
  url: string,
  result: Promise<T>,
  timeoutMs: number,
  beforeClose?: (chromiumPid: number) => void,
): Promise<T> {
  const profile = mkdtempSync(join(tmpdir(), 'sft-bench-chromium-'));
  // SFT_CHROMIUM_FLAGS: extra flags, e.g. tracing for a profile of the page and its worker:
  // "--trace-startup=disabled-by-default-v8.cpu_profiler,v8 --trace-startup-file=/tmp/t.json --trace-startup-duration=60"
  const extra = process.env.SFT_CHROMIUM_FLAGS?.split(' ').filter(Boolean) ?? [];
  const proc = spawn(CHROMIUM, [...CHROMIUM_FLAGS, ...extra, `--user-data-dir=${profile}`, url], {
    stdio: 'ignore',
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      result,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Chromium did not report within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
      new Promise<never>((_, reject) => proc.once('error', reject)),
      new Promise<never>((_, reject) =>
        proc.once('exit', (code, signal) =>
          reject(new Error(`Chromium exited (${code ?? signal}) before the page reported`)),
        ),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    if (beforeClose && proc.pid !== undefined) beforeClose(proc.pid);
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(kill);
    }
    // Chromium's helpers may still be flushing the profile: retry, and never fail the run over it.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    } catch {
      // a leftover temp profile is harmless
    }
  }
}
