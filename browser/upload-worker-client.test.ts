import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// No import reaches the worker: the bundler finds it through `new Worker(new URL(...))`.
describe('upload-worker-client', () => {
  it('starts the worker from a module that exists beside it, as a module worker', () => {
    const text = readFileSync(path.join(import.meta.dirname, 'upload-worker-client.ts'), 'utf8');
    const match = /new Worker\(new URL\('([^']+)', import\.meta\.url\),\s*\{\s*type: 'module'/.exec(text);
    expect(match).not.toBeNull();
    expect(existsSync(path.join(import.meta.dirname, match![1]!))).toBe(true);
  });
});
