/** Entry point: `npm run client -- [options] [FILE...]` (see --help). */
import { EXIT_INTERRUPTED, runCli } from './app';
import { invocationFolder } from './invocation-folder';

const controller = new AbortController();
let interrupts = 0;
process.on('SIGINT', () => {
  interrupts++;
  if (interrupts > 1) process.exit(EXIT_INTERRUPTED);
  process.stderr.write('\nInterrupting (press Ctrl-C again to quit at once)...\n');
  controller.abort();
});

// A reader of stdout that goes away (`... --json | head -1`) must not stop the uploads: EPIPE
// was an unhandled error that ended the process mid-file. Its lines are dropped from then on.
let stdoutGone = false;
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  stdoutGone = true;
});
const stdout = { write: (text: string) => stdoutGone || process.stdout.write(text) };

process.exitCode = await runCli(process.argv.slice(2), {
  stdout,
  stderr: process.stderr,
  cwd: invocationFolder(process.env, process.cwd()),
  signal: controller.signal,
  env: process.env,
});
