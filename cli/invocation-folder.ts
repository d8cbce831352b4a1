/**
 * The folder the person typed the command in. `npm run client` runs the script from the
 * repository root, so process.cwd() is the root there; npm keeps the folder it was started in
 * as INIT_CWD. Only trusted when npm ran this very script (npm_lifecycle_event "client"): any
 * other npm script (npm test, a bench) passes its own INIT_CWD down to the processes it starts.
 */
export function invocationFolder(env: NodeJS.ProcessEnv, cwd: string): string {
  return env.npm_lifecycle_event === 'client' && env.INIT_CWD ? env.INIT_CWD : cwd;
}
