/**
 * The heap floor of the server and bridge (platform/allocator-env.ts HEAP_FLAGS): every
 * launcher passes it (npm start's parts are checked in test/scripts/start.test.ts). What it
 * saves is V8's behaviour, not ours, and depends on heuristics too noisy for an assertion
 * (a small child churning buffers showed 1 to 8 full collections without it); the bench
 * measures it (bench/README.md, "Full collections").
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HEAP_FLAGS } from '../../platform/allocator-env';
import { ROOT, spawnPart } from '../support/processes';

describe('heap floor', () => {
  it('the npm scripts of the server and bridge pass it before the program', () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    for (const part of ['server', 'bridge']) {
      const words = String(scripts[part]).split(/\s+/);
      for (const flag of HEAP_FLAGS) {
        expect(words, part).toContain(flag);
        expect(words.indexOf(flag), part).toBeLessThan(words.indexOf(`${part}/main.ts`));
      }
    }
  });

  it('a server started by the tests runs with it', async () => {
    const data = await mkdtemp(join(tmpdir(), 'sft-heap-flags-'));
    const server = await spawnPart('server', ['--host', '127.0.0.1', '--port', '0', '--data', data]);
    try {
      const args = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0');
      for (const flag of HEAP_FLAGS) expect(args).toContain(flag);
    } finally {
      await server.stop();
      await rm(data, { recursive: true, force: true });
    }
  });
});
