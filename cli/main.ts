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

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: invocationFolder(process.env, process.cwd()),
  signal: controller.signal,
  env: process.env,
});
