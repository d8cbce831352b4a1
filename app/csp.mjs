/**
 * The Content-Security-Policy of every response, in one place for next.config.mjs (build
 * time, all responses) and proxy.ts (run time, the upload worker's script). See
 * next.config.mjs for why each source is allowed.
 *
 * @param {{ dev?: boolean, connectSrc?: string }} [opts] `connectSrc`: the connect-src
 *   sources (default `'self' ws: wss:`, any WebSocket: a build cannot know the bridge).
 * @returns {string}
 */
export function contentSecurityPolicy({ dev = false, connectSrc = "'self' ws: wss:" } = {}) {
  return [
    "default-src 'self'",
    // 'unsafe-eval' only for next dev (React's dev tooling); never in a production build.
    // 'wasm-unsafe-eval' lets the upload worker compile lib/crypto's 385-byte cksum module
    // (1.7x the JS loop); it allows WebAssembly compilation only, not eval of JavaScript.
    `script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval'${dev ? " 'unsafe-eval'" : ''}`,
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
