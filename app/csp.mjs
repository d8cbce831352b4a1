/**
 * The Content-Security-Policy of every response, in one place for next.config.mjs (build
 * time, all responses) and proxy.ts (run time, every response). See next.config.mjs for why
 * each source is allowed.
 *
 * script-src takes one of three forms:
 * - `nonce` given (a page, per request): `'nonce-…' 'strict-dynamic'`. Only the scripts
 *   Next.js rendered into this response with this nonce run (its bootstrap, the inline RSC
 *   payload, the chunks), and what those load; an inline script or event handler injected
 *   into the page does not, nor does any other file of this origin. The nonce is fresh per
 *   request (proxy.ts) and the pages are rendered per request already (app/layout.tsx).
 * - `inlineScripts` (the build-time fallback of next.config.mjs, replaced by proxy.ts on
 *   every response): `'self' 'unsafe-inline'`, what a build frozen for every request can say.
 * - neither (every response that is not a page, the upload worker's script among them: a
 *   dedicated worker obeys its own script's policy): `'self'` alone; a worker has no inline
 *   scripts.
 *
 * @param {{ dev?: boolean, connectSrc?: string, nonce?: string, inlineScripts?: boolean }} [opts]
 *   `connectSrc`: the connect-src sources (default `'self' ws: wss:`, any WebSocket: a build
 *   cannot know the bridge).
 * @returns {string}
 */
export function contentSecurityPolicy({
  dev = false,
  connectSrc = "'self' ws: wss:",
  nonce,
  inlineScripts = false,
} = {}) {
  const scripts = nonce
    ? `'nonce-${nonce}' 'strict-dynamic'`
    : inlineScripts
      ? "'self' 'unsafe-inline'"
      : "'self'";
  return [
    "default-src 'self'",
    // 'unsafe-eval' only for next dev (React's dev tooling); never in a production build.
    // 'wasm-unsafe-eval' lets the upload worker compile lib/crypto's 385-byte cksum module
    // (1.7x the JS loop); it allows WebAssembly compilation only, not eval of JavaScript.
    `script-src ${scripts} 'wasm-unsafe-eval'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    `connect-src ${connectSrc}`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}
