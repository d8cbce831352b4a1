/**
 * Environment for the server and bridge processes (npm start, npm run server/bridge, tests,
 * bench). glibc gives each thread that allocates its own malloc arena and keeps freed memory
 * in them; a flood's buffers, once collected, then stay in RSS. Two arenas: the bridge went
 * back from 118 to 75 MiB after 16 peers pinned 32 MiB and left (106 MiB with the default).
 * It must be in the environment before the process starts (glibc reads it once).
 */
export const ALLOCATOR_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' };

/** ALLOCATOR_ENV without what `env` already sets: an operator's own value wins. */
export function allocatorEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return Object.fromEntries(Object.entries(ALLOCATOR_ENV).filter(([name]) => env[name] === undefined));
}

/**
 * Node flags for the server and bridge processes: a 64 MB floor under V8's old-generation
 * limit. V8 sets that limit from the live heap, about 9 MB in the server, and counts every
 * ArrayBuffer allocated since the last full collection towards it; 64 KiB socket reads and
 * 256 KiB records at 300 MiB/s reached it every 45 ms. A 512 MiB v4 upload cost the server
 * 38 full (mark-compact) collections, about a fifth of its CPU samples; with the floor, none,
 * and the same peak RSS (153 against 155 MiB; bench/README.md, "Full collections"). V8 reads
 * the flag only when the process starts and node refuses it in NODE_OPTIONS, so every
 * launcher passes it on the command line: the npm scripts, scripts/start.ts and
 * test/support/processes.ts (a contract test checks all three).
 */
export const HEAP_FLAGS: readonly string[] = ['--initial-old-space-size=64'];
