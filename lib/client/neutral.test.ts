import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** The files the browser bundles: they must run unchanged outside Node. */
const NEUTRAL = [
  'errors.ts',
  'establish.ts',
  'index.ts',
  'receive-queue.ts',
  'session.ts',
  'transport.ts',
  'types.ts',
];

describe('lib/client is runtime-neutral', () => {
  it.each(NEUTRAL)('%s imports only lib/protocol, lib/crypto and itself, and never uses Buffer', (file) => {
    const text = readFileSync(path.join(import.meta.dirname, file), 'utf8');
    const imports = [...text.matchAll(/from '([^']+)'/g)].map((m) => m[1]!);
    for (const spec of imports) expect(spec).toMatch(/^(\.\/[a-z-]+|\.\.\/(protocol|crypto))$/);
    expect(text).not.toMatch(/\bBuffer\b|\bprocess\.|require\(/);
  });
});
