/**
 * Entry point: `npm run server -- [options]` starts the file server, `... files` lists
 * received files, `... invite ...` and `... clients ...` are the owner's commands
 * (admin-options.ts). Stdout carries only the server's JSON log lines: once ready, the one with
 * `"event":"listening"` gives the `host` and `port` (with `--port 0`, the one it took). This
 * file logs nothing itself; createFileServer does. Human sentences go to stderr.
 */
import { runAdmin } from './admin-command';
import { adminArgv } from './admin-options';
import { helpText, parseArgs } from './config';
import { ServerError } from './errors';
import { createFileServer } from './server';
import { readServerFingerprint } from './v4/server-key';

async function main(argv: string[]): Promise<number> {
  const admin = adminArgv(argv);
  if (admin) {
    const progress = process.stderr.isTTY ? (t: string) => void process.stderr.write(t) : undefined;
    const { output, exitCode } = await runAdmin(admin, progress ? { progress } : {});
    process.stdout.write(output);
    return exitCode;
  }
  const parsed = parseArgs(argv);
  if (parsed.command === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (parsed.command === 'info') {
    const fp = await readServerFingerprint(parsed.config.dataDir);
    process.stdout.write(
      fp
        ? `Server key fingerprint (protocol v4): ${fp}\n`
        : `No server key in ${parsed.config.dataDir} yet; it is made at the first start.\n`,
    );
    return 0;
  }
  for (const w of parsed.warnings) process.stderr.write(`warning: ${w}\n`);
  const server = createFileServer(parsed.config);
  // Handlers first: whoever reads the listening line may signal at once.
  const stopped = new Promise<void>((resolve) => {
    // Ctrl-C under npm start reaches this process twice (the terminal's SIGINT, then npm
    // start's SIGTERM): shut down, and say so, once.
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(
        `${signal}: shutting down (unfinished v3 uploads are dropped; v4 ones are kept and resume after a restart)\n`,
      );
      server.close().then(resolve, resolve);
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await server.listen();
  await stopped;
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof ServerError) process.stderr.write(`error: ${e.message}\n`);
    else if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      process.stderr.write(`error: the port is already in use; pick another with --port or port.info.\n`);
    } else process.stderr.write(`error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
