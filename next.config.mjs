/**
 * Security headers for every response.
 *
 * Next.js evaluates `headers()` at `next build` and freezes the result in the build output,
 * so these headers cannot know where a deployment's bridge lives (one build serves any
 * deployment). They therefore allow WebSocket connections in general (`ws:` `wss:`); at run
 * time proxy.ts replaces the header on every response with the same policy whose
 * connect-src names only the configured bridge (SFT_BRIDGE_URL / SFT_PUBLIC_ORIGIN /
 * SFT_BRIDGE_PORT, configuration only: app/runtime-config.ts), which also covers the upload
 * worker (it obeys its own script's CSP), and the root layout repeats that connect-src as a
 * <meta> policy. Browsers enforce every policy they receive, so the page can reach only its
 * own origin and that one bridge.
 * The policy itself is app/csp.mjs.
 *
 * script-src: the app router streams its bootstrap and RSC payload as inline <script> tags
 * whose content changes per page, so hashes cannot work. proxy.ts gives each page request a
 * fresh nonce, in the request's CSP header (Next.js reads it there and puts it on every
 * script it renders) and the response's, with 'strict-dynamic': no inline script runs
 * without it. The policy frozen here, which proxy.ts replaces on every response, can only
 * say 'unsafe-inline'. Beneath that, the page renders no HTML from untrusted input (React
 * escapes all text; file and client names are only ever text), no external origin is
 * allowed for scripts, and object-src/base-uri are 'none'.
 * style-src 'unsafe-inline': server-rendered progress bars carry style attributes.
 */
import { PHASE_DEVELOPMENT_SERVER } from 'next/constants.js';
import { contentSecurityPolicy } from './app/csp.mjs';

/** @param {string} phase */
export default function nextConfig(phase) {
  const dev = phase === PHASE_DEVELOPMENT_SERVER;
  const csp = contentSecurityPolicy({ dev, inlineScripts: true });

  /** @type {import('next').NextConfig} */
  const config = {
    reactStrictMode: true,
    poweredByHeader: false,
    // `npm run typecheck` (tsc --noEmit over the whole repo) is the one type check; without
    // this, next build would type-check every folder again (server/, cli/, tests...).
    typescript: { ignoreBuildErrors: true },
    async headers() {
      return [
        {
          source: '/:path*',
          headers: [
            { key: 'Content-Security-Policy', value: csp },
            { key: 'Referrer-Policy', value: 'no-referrer' },
            { key: 'X-Content-Type-Options', value: 'nosniff' },
            { key: 'X-Frame-Options', value: 'DENY' },
            { key: 'Cross-Origin-Opener-Policy', value: 'same-origin' },
            { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=()' },
          ],
        },
      ];
    },
  };
  return config;
}
