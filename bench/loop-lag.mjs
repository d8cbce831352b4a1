// Preload for a profiled server (SFT_BENCH_SERVER_FLAGS="--import ./bench/loop-lag.mjs"):
// prints the event loop's worst delay of each second to stderr, to tell a blocked loop
// from a slow peer. Diagnostic only.
import { monitorEventLoopDelay } from 'node:perf_hooks';

const h = monitorEventLoopDelay({ resolution: 10 });
h.enable();
setInterval(() => {
  process.stderr.write(`loop-lag ${Date.now()} max ${(h.max / 1e6).toFixed(0)} ms\n`);
  h.reset();
}, 1000).unref();
