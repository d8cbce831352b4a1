/**
 * Runs before every request:
 * - A request whose Host or X-Forwarded-Host is not a configured host gets 421 Misdirected
 *   Request (app/allowed-hosts.ts), before any page or file is served for it.
 * - Every response gets the whole CSP with connect-src narrowed to this deployment's bridge
 *   (app/runtime-config.ts, configuration only). This matters most for the upload worker's
 *   script: a dedicated worker obeys the CSP of its own script's response, and the headers
 *   of next.config.mjs are frozen at build time (they allow `ws: wss:` in general). A header
 *   set here replaces next.config.mjs's of the same name.
 * - A page (a navigation: Sec-Fetch-Dest `document`, or none, as from older clients) gets a
 *   fresh nonce: in the request's CSP header, where Next.js reads it and puts it on each
 *   script it renders, and in the response's with 'strict-dynamic', so no script runs in
 *   the page that Next.js did not render or load (app/csp.mjs). Every other response gets
 *   script-src 'self' alone.
 */
import { type NextRequest, NextResponse } from 'next/server';
import { requestHostAllowed } from './app/allowed-hosts';
import { contentSecurityPolicy } from './app/csp.mjs';
import { bridgeOrigin, resolveRuntimeConfig } from './app/runtime-config';

export function proxy(request: NextRequest): NextResponse {
  if (!requestHostAllowed((name) => request.headers.get(name))) {
    // The text names no host: nothing the client sent is echoed back.
    return new NextResponse('Misdirected Request: this server does not serve that host.\n', {
      status: 421,
      headers: { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' },
    });
  }
  const { bridgeUrl } = resolveRuntimeConfig();
  const dev = process.env.NODE_ENV === 'development';
  const connectSrc = `'self' ${bridgeOrigin(bridgeUrl)}`;
  const dest = request.headers.get('sec-fetch-dest');
  if (dest !== null && dest !== 'document') {
    const response = NextResponse.next();
    response.headers.set('Content-Security-Policy', contentSecurityPolicy({ dev, connectSrc }));
    return response;
  }
  const csp = contentSecurityPolicy({ dev, connectSrc, nonce: newNonce() });
  const requestHeaders = new Headers(request.headers);
  requestHeaders.set('Content-Security-Policy', csp);
  const response = NextResponse.next({ request: { headers: requestHeaders } });
  response.headers.set('Content-Security-Policy', csp);
  return response;
}

/** 128 random bits, base64: a CSP nonce for one response. */
function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}
