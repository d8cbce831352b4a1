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
