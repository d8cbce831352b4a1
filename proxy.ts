/**
 * The upload worker's script gets the same per-request connect-src as the page: only its
 * own origin and this deployment's bridge. A dedicated worker obeys the CSP of its own
 * script's response, and the headers of next.config.mjs are frozen at build time (they
 * allow `ws: wss:` in general); here the whole policy is sent again at run time with the
 * narrow connect-src (a header set here replaces next.config.mjs's of the same name).
 */
import { type NextRequest, NextResponse } from 'next/server';
import { contentSecurityPolicy } from './app/csp.mjs';
import { bridgeOrigin, resolveRuntimeConfig } from './app/runtime-config';

export function proxy(request: NextRequest): NextResponse {
  const { bridgeUrl } = resolveRuntimeConfig((name) => request.headers.get(name));
  const response = NextResponse.next();
  const dev = process.env.NODE_ENV === 'development';
  response.headers.set(
    'Content-Security-Policy',
    contentSecurityPolicy({ dev, connectSrc: `'self' ${bridgeOrigin(bridgeUrl)}` }),
  );
  return response;
}

// The worker starts from a Turbopack bootstrap under /_next/static/chunks
// (turbopack-worker-<hash>.js?params=...), which then imports the worker's chunks. Every
// static file gets the policy: it only matters for scripts that start a worker.
export const config = { matcher: '/_next/static/:path*' };
