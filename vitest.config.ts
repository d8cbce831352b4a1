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
  },
});
