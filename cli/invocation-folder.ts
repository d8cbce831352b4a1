/**
 * The folder the person typed the command in. `npm run client` runs the script from the
 * repository root, so process.cwd() is the root there; npm keeps the folder it was started in
 * as INIT_CWD. Only trusted when npm ran this very script (npm_lifecycle_event "client"): any
 * other npm script (npm test, a bench) passes its own INIT_CWD down to the processes it starts.
 */
export function invocationFolder(env: NodeJS.ProcessEnv, cwd: string): string {
  return env.npm_lifecycle_event === 'client' && env.INIT_CWD ? env.INIT_CWD : cwd;
}

/** The client's options that npm itself takes when they come before `--` (it keeps each as npm_config_NAME). */
const NPM_TAKES = ['server', 'name', 'dir', 'protocol', 'invite'] as const;

/**
 * `npm run client --server HOST:PORT FILE` (no `--`): npm takes --server for itself, warns
 * `Unknown cli config "--server"` and passes on only what is left. The options npm took that
 * the client did not get, so that it can say so; empty unless npm ran this very script.
 */
export function optionsNpmTook(
  env: Readonly<Record<string, string | undefined>>,
  given: Partial<Record<(typeof NPM_TAKES)[number], unknown>>,
): string[] {
  if (env.npm_lifecycle_event !== 'client') return [];
  return NPM_TAKES.filter((o) => env[`npm_config_${o}`] !== undefined && given[o] === undefined).map(
    (o) => `--${o}`,
  );
}
