import { expect, test } from './fixtures';

/**
 * Runs in the page or in a worker (passed to evaluate()): opens a WebSocket to a foreign
 * address and one to the bridge, and collects the CSP violations reported meanwhile.
 */
async function probeWebSockets(bridge: string): Promise<{ other: string; ours: string; seen: string[] }> {
  const seen: string[] = [];
  // In the page the event bubbles from the document to the window; in a worker it fires on self.
  globalThis.addEventListener('securitypolicyviolation', (e) => {
    const v = e as SecurityPolicyViolationEvent;
    seen.push(`${v.effectiveDirective} ${v.blockedURI}`);
  });
  const tryOpen = (url: string) =>
    new Promise<string>((resolve) => {
      try {
        const ws = new WebSocket(url);
        ws.onopen = () => {
          ws.close();
          resolve('open');
        };
        ws.onerror = () => resolve('error');
      } catch (e) {
        resolve(`threw ${(e as Error).name}`);
      }
    });
  const other = await tryOpen('ws://127.0.0.1:9/');
  const ours = await tryOpen(bridge);
  await new Promise((r) => setTimeout(r, 200));
  return { other, ours, seen };
}

test('security headers, and a CSP that lets the page connect only to itself and its bridge', async ({
  page,
  system,
}) => {
  const res = await page.goto(system.webUrl);
  const h = res!.headers();
  const csp = h['content-security-policy']!;
  expect(csp).toContain("frame-ancestors 'none'");
  // A fresh nonce with 'strict-dynamic': no inline script runs without it (see below).
  expect(csp).toMatch(/script-src 'nonce-[A-Za-z0-9+/]{22}==' 'strict-dynamic' 'wasm-unsafe-eval';/);
  expect(csp).not.toContain("'unsafe-inline' 'wasm"); // 'unsafe-inline' is left only in style-src
  // WebAssembly compilation is allowed (the cksum module); eval of JavaScript is not.
  expect(csp).not.toContain("'unsafe-eval'");
  expect(csp).toContain("object-src 'none'");
  expect(csp).toContain("worker-src 'self' blob:");
  expect(h['referrer-policy']).toBe('no-referrer');
  expect(h['x-content-type-options']).toBe('nosniff');

  // The per-request policy names exactly this deployment's bridge.
  const bridgeOrigin = system.bridgeUrl.replace(/\/$/, '');
  await expect(page.locator('meta[http-equiv="Content-Security-Policy"]')).toHaveAttribute(
    'content',
    `connect-src 'self' ${bridgeOrigin}`,
  );

  // A WebSocket to any other address is refused by the browser; the bridge's is not.
  const violations = await page.evaluate(probeWebSockets, system.bridgeUrl);
  expect(violations.ours).toBe('open');
  expect(violations.other).not.toBe('open');
  expect(violations.seen.some((v) => v.startsWith('connect-src ws://127.0.0.1:9'))).toBe(true);
});

test('the upload worker obeys the same narrow connect-src, set per request on its script', async ({
  page,
  system,
}) => {
  const workerStarted = page.waitForEvent('worker');
  await page.goto(system.webUrl);
  const worker = page.workers()[0] ?? (await workerStarted);
  // A dedicated worker follows its own script's CSP: proxy.ts sends the full policy with
  // connect-src narrowed to this deployment's bridge (the build-time one allows any ws:).
  // Asked as the browser asks for a worker's script (Fetch Metadata: Sec-Fetch-Dest worker).
  const script = await page.request.get(worker.url(), { headers: { 'Sec-Fetch-Dest': 'worker' } });
  const bridgeOrigin = system.bridgeUrl.replace(/\/$/, '');
  const csp = script.headers()['content-security-policy']!;
  expect(csp).toContain(`connect-src 'self' ${bridgeOrigin};`);
  // A worker has no inline scripts: its own files only.
  expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval';");
  expect(csp).not.toContain('ws: wss:');

  const outcome = await worker.evaluate(probeWebSockets, system.bridgeUrl);
  expect(outcome.ours).toBe('open');
  expect(outcome.other).not.toBe('open');
  expect(outcome.seen.some((v) => v.startsWith('connect-src ws://127.0.0.1:9'))).toBe(true);
});

test('the page cannot be framed', async ({ page, system }) => {
  const failed = page.waitForEvent('requestfailed', (r) => r.url().startsWith(system.webUrl));
  await page.setContent(`<iframe src="${system.webUrl}/" width="400" height="300"></iframe>`);
  // frame-ancestors 'none' / X-Frame-Options DENY: Chromium refuses to render the response in a frame.
  expect((await failed).failure()?.errorText).toBe('net::ERR_BLOCKED_BY_RESPONSE');
  expect(await page.frames()[1]?.locator('[data-testid="connection-status"]').count()).toBe(0);
});

test("only the scripts Next.js rendered with the response's nonce run: an injected inline script does not", async ({
  page,
  system,
}) => {
  const nonceOf = (csp: string) => /'nonce-([^']+)'/.exec(csp)?.[1];
  const first = await page.request.get(`${system.webUrl}/`, { headers: { 'Sec-Fetch-Dest': 'document' } });
  const second = await page.request.get(`${system.webUrl}/`);
  const nonce = nonceOf(first.headers()['content-security-policy']!);
  expect(nonce).toBeTruthy();
  // Fresh per response.
  expect(nonceOf(second.headers()['content-security-policy']!)).not.toBe(nonce);
  // Every script tag of the page carries it.
  const html = await first.text();
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts.length).toBeGreaterThan(0);
  for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);

  // The same response with a script injected as markup would inject it (the policy as sent):
  // the page still starts (its scripts have the nonce), the injected one is refused.
  const injected = html.replace('<head>', '<head><script>window.__injected = true</script>');
  expect(injected).not.toBe(html);
  // The body is decoded text now: the headers go without its encoding and length.
  const headers = { ...first.headers() };
  delete headers['content-encoding'];
  delete headers['content-length'];
  await page.route(`${system.webUrl}/`, (route) => route.fulfill({ status: 200, headers, body: injected }));
  const refused: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && m.text().includes('Content Security Policy')) refused.push(m.text());
  });
  // The page's own scripts ran: they started the upload worker.
  const workerStarted = page.waitForEvent('worker');
  await page.goto(`${system.webUrl}/`);
  await workerStarted;
  expect(await page.evaluate(() => (window as { __injected?: boolean }).__injected)).toBeUndefined();
  expect(refused.some((t) => t.includes('inline script'))).toBe(true);
});
