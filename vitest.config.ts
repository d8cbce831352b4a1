import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The app's `@/` imports (tsconfig paths), for the app's unit tests.
  resolve: { alias: [{ find: /^@\//, replacement: fileURLToPath(new URL('./', import.meta.url)) }] },
  test: {
    include: [
      'lib/**/*.test.ts',
      'browser/**/*.test.ts',
      'app/**/*.test.ts',
      'server/**/*.test.ts',
      'bridge/**/*.test.ts',
      'cli/**/*.test.ts',
      'platform/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time: most of the suite waits on sockets, timers and child processes
    // (one worker left a 2-core machine half idle: 602 s against 381 s with two, 2026-12-08).
    // Vitest's default is one fewer than the cores, one on such a machine.
    maxWorkers: 2,
  },
});
