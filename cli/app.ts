/**
 * The CLI client: resolves what to send where (flags over transfer.info), checks the files,
 * connects, reconnects or registers (persisting me.info/priv.key), sends each file and
 * prints one summary line per file. Returns the exit status.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { ClientError, ClientSession, type EstablishEvent, establishIdentity } from '../lib/client';
import type { Identity } from '../lib/crypto';
import { bytesToHex } from '../lib/crypto';
import { MAX_SEND_ATTEMPTS, RequestCode } from '../lib/protocol';
import { V4ErrorCode } from '../lib/protocol/v4/constants';
import { removeStaleTemps } from '../platform/atomic-file';
import { type Protocol, parseArgs, parseServerAddress, type ServerAddress, USAGE } from './args';
import { describeAddress, openTransport, orTimeout } from './connect';
import { CliError, Interrupted, interruptedLine } from './errors';
import { type LocalFile, prepareFile } from './file-source';
import {
  ensureIdentityDir,
  IDENTITY_FILES_WRITTEN,
  INVITE_LINK,
  keepReplacedIdentity,
  ME_INFO,
  PRIV_KEY_REPLACED,
  readIdentity,
  readSavedInvite,
  readTransferInfo,
  saveInvite,
  TRANSFER_INFO,
  writeIdentity,
} from './identity-store';
import { type CheckedInvite, checkInvite, inviteRefusal } from './invite';
import { optionsNpmTook } from './invocation-folder';
import { createKeyPair, nodeEncryptorFactory, unwrapperFor } from './node-crypto';
import { formatTiming, jsonSeconds, type ProgressOutput, ProgressReporter } from './progress';
import {
  downgradeHint,
  knownV4,
  protocol3Beforehand,
  protocol3Fallback,
  withHint,
} from './protocol-fallback';
import { senderName } from './sender-name';
import { shown } from './shown';
import { readV4Name, V4_FILES_WRITTEN } from './v4-store';
import { transferV4, type V4Plan } from './v4-transfer';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;
/** After a failed handshake, how long to wait for the bridge's close code (4010-4013). */
const CLOSE_WAIT_MS = 2_000;
/** A wrong command line, configuration or file argument: exit 2, nothing sent. */
const USAGE_ERRORS = new Set(['CLI_ERR_USAGE', 'CLI_ERR_CONFIG', 'CLI_ERR_FILE']);

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressOutput;
  cwd: string;
  /** Aborted on Ctrl-C. */
  signal?: AbortSignal;
  /** The process's environment: whether npm took some of the options (invocation-folder.ts). */
  env?: NodeJS.ProcessEnv;
}

interface Plan {
  dir: string;
  server: ServerAddress;
  name: string;
  identity: Identity | null;
  unwrap?: (encrypted: Uint8Array) => Promise<Uint8Array>;
  files: LocalFile[];
  json: boolean;
  /** The invite offered to the bridge; `saved` when it came from invite.link. */
  invite: (CheckedInvite & { saved: boolean }) | null;
  protocol: Protocol;
  /** Zero-pad each file's last packet (protocol 3 to a server that does not speak 4). */
  padLastPacket?: boolean;
  /** --timeout: how long a server may keep us waiting (cli/answer-deadline.ts). */
  timeoutMs: number;
}

export async function runCli(argv: readonly string[], given: CliIo): Promise<number> {
  const say = (text: string) => given.stderr.write(`${text}\n`);
  // Whether any file's line was written: --json gives every file one, even when none was tried.
  let written = false;
  const io: CliIo = {
    ...given,
    stdout: {
      write: (text: string) => {
        written = true;
        return given.stdout.write(text);
      },
    },
  };
  let plan: Plan | null = null;
  try {
    const args = await parseArgsIn(argv, io.cwd);
    if (args.help) {
      io.stdout.write(`${USAGE}\n`);
      return EXIT_OK;
    }
    const took = optionsNpmTook(io.env ?? {}, args);
    if (took.length > 0)
      throw new CliError(
        'CLI_ERR_USAGE',
        `npm took ${took.join(', ')} for itself (npm's options come before --): put -- before the client's options, as in npm run client -- --server HOST:PORT --name NAME FILE`,
      );
    plan = await makePlan(args, io.cwd);
    if (plan.protocol === '3') return await transfer(plan, io);
    const beforehand =
      plan.protocol === 'auto'
        ? protocol3Beforehand({
            dir: plan.dir,
            throughBridge: plan.server.kind === 'ws',
            invite: plan.invite,
            identity: plan.identity,
            v4Name: await readV4Name(plan.dir),
          })
        : null;
    if (beforehand !== null) {
      say(beforehand);
      // Protocol 3's own rules (ASCII names, 4 GiB) apply; the bridge is ours, so no padding.
      const files = await prepareFiles(
        plan.files.map((f) => f.path),
        3,
      );
      return await transfer({ ...plan, files }, io);
    }
    try {
      return await transferV4(v4PlanOf(plan, say), io);
    } catch (e) {
      const fallback = protocol3Fallback(e, plan);
      if (fallback === null) throw e;
      if (plan.protocol !== 'auto') throw fallback.forced ? withHint(e as ClientError, fallback.forced) : e;
      // A close or a 1607 proves nothing (no key): not from a server that spoke 4 before.
      if (!fallback.ours) {
        const where = describeAddress(plan.server);
        const why = await knownV4(plan.dir, where, v4PlanOf(plan, say).invite ?? null);
        if (why !== null) throw withHint(e as ClientError, downgradeHint(where, why));
      }
      say(fallback.line);
      if (plan.invite && plan.server.kind === 'tcp') {
        say('Protocol 3 over direct TCP cannot carry the invite: connecting without it.');
      }
      // Protocol 3's own rules (ASCII names, 4 GiB) now apply to every file; a server without
      // protocol 4 is not ours, so it gets the reference client's packet shape.
      const files = await prepareFiles(
        plan.files.map((f) => f.path),
        3,
      );
      return await transfer({ ...plan, files, padLastPacket: !fallback.ours }, io);
    }
  } catch (e) {
    if (io.signal?.aborted) {
      say(interruptedLine(e));
      return EXIT_INTERRUPTED;
    }
    if (e instanceof CliError) {
      say(`Error: ${e.message}`);
      return USAGE_ERRORS.has(e.code) ? EXIT_USAGE : EXIT_FAILED;
    }
    if (e instanceof ClientError) {
      say(`Error: ${describeClientError(e)}${plan ? inviteNextStep(e, plan) : ''}`);
      // No file was tried (the server unreachable, say): each still gets its line.
      if (plan?.json && !written) {
        const report = fileReporter(true, io.stdout);
        for (const f of plan.files)
          report(f, { status: 'not-sent', crc: null, seconds: 0, reason: shortReason(e) });
      }
      return EXIT_FAILED;
    }
    say(`Unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    return EXIT_FAILED;
  }
}

/**
 * parseArgs, and for an unknown option that is a file in `cwd` (`-dash.txt` read as -d -a ...)
 * the hint to pass it after -- or as ./NAME.
 */
export async function parseArgsIn(
  argv: readonly string[],
  cwd: string,
): Promise<ReturnType<typeof parseArgs>> {
  try {
    return parseArgs(argv);
  } catch (e) {
    if (!(e instanceof CliError) || !e.message.startsWith('Unknown option ')) throw e;
    const end = argv.indexOf('--');
    const options = end < 0 ? argv : argv.slice(0, end);
    for (const arg of options) {
      if (!/^-[^-]|^--./.test(arg)) continue;
      const isFile = await stat(path.resolve(cwd, arg)).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!isFile) continue;
      const name = shown(arg);
      throw new CliError(
        'CLI_ERR_USAGE',
        `${e.message} ${name} is a file here: to send it, give it after -- (as in npm run client -- [options] -- ${name}) or as ./${name}.`,
        { cause: e },
      );
    }
    throw e;
  }
}

/** The v4 transfer's view of the plan: the invite, and what to do once it was taken. */
function v4PlanOf(plan: Plan, say: (text: string) => void): V4Plan {
  const source = plan.invite?.saved ? path.join(plan.dir, INVITE_LINK) : null;
  return {
    ...plan,
    invite: plan.invite && {
      token: plan.invite.token,
      ...(plan.invite.fingerprint !== undefined ? { fingerprint: plan.invite.fingerprint } : {}),
      source: source === null ? 'the invite link' : `the invite in ${source}`,
    },
    bridgeRefusal: (code) => inviteRefusal(code, source),
    nextStep: (e) => inviteNextStep(e, plan),
    onWelcomed: async () => {
      if (plan.invite && !plan.invite.saved) await keepInvite(plan, say);
    },
  };
}

/** The server took the invite: keep it for the next runs (a refused one never replaces a good one). */
async function keepInvite(plan: Plan, say: (text: string) => void): Promise<void> {
  if (!plan.invite) return;
  await saveInvite(plan.dir, plan.invite.text);
  say(`Kept the invite in ${path.join(plan.dir, INVITE_LINK)} for later runs.`);
}

/** Settles every input before connecting: a missing file or bad config costs no connection. */
async function makePlan(args: ReturnType<typeof parseArgs>, cwd: string): Promise<Plan> {
  const dir = path.resolve(cwd, args.dir ?? '.');
  // Temp files a kill -9 left while one of our files in --dir was being written (the private
  // keys among them): gone now, unless young enough to be another run's write on this --dir.
  await removeStaleTemps(dir, [...IDENTITY_FILES_WRITTEN, ...V4_FILES_WRITTEN]);
  const info = await readTransferInfo(dir, { filesGiven: args.files.length > 0 });
  const identity = await readIdentity(dir);

  let server: ServerAddress;
  if (args.server) server = parseServerAddress(args.server);
  else if (info) server = { kind: 'tcp', host: info.host, port: info.port };
  else {
    throw new CliError(
      'CLI_ERR_CONFIG',
      `No server given: pass --server HOST:PORT, or put HOST:PORT on line 1 of ${path.join(dir, TRANSFER_INFO)}.`,
    );
  }

  const name = await senderName(dir, args.name, identity?.name, info?.name);

  let filePaths: string[];
  if (args.files.length > 0) filePaths = args.files.map((f) => path.resolve(cwd, f));
  else if (info?.filePath) filePaths = [path.resolve(dir, info.filePath)];
  else {
    throw new CliError(
      'CLI_ERR_CONFIG',
      `No file to send: name files on the command line, or put a path on line 3 of ${path.join(dir, TRANSFER_INFO)}.`,
    );
  }
  const protocol = args.protocol ?? 'auto';
  const files = await prepareFiles(filePaths, protocol === '3' ? 3 : 4);
  const invite = await planInvite(args.invite, server, dir, protocol);

  let unwrap: Plan['unwrap'];
  if (identity) {
    try {
      unwrap = await unwrapperFor(identity.privateKeyPkcs8);
    } catch (e) {
      throw new CliError(
        'CLI_ERR_CONFIG',
        `The private key in ${path.join(dir, ME_INFO)} cannot be used: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  // A first run registers and must be able to keep the identity it gets.
  if (!identity) await ensureIdentityDir(dir);
  return {
    dir,
    server,
    name,
    identity,
    unwrap,
    files,
    json: args.json,
    invite,
    protocol,
    timeoutMs: args.timeoutMs,
  };
}

/**
 * --invite, else the invite.link a run before kept; checked before connecting. A bridge gets
 * it in the WebSocket handshake, a direct connection with protocol 4 in ClientAuth; protocol 3
 * over direct TCP cannot carry one (no field for it), so --invite with --protocol 3 there is a
 * usage error; a saved invite is used only through a bridge.
 */
async function planInvite(
  given: string | undefined,
  server: ServerAddress,
  dir: string,
  protocol: Protocol,
): Promise<Plan['invite']> {
  const carried = server.kind === 'ws' || protocol !== '3';
  if (given !== undefined) {
    if (!carried) {
      throw new CliError(
        'CLI_ERR_USAGE',
        '--invite with --protocol 3 works only through a bridge (--server ws://HOST:PORT/): protocol 3 over a direct TCP connection cannot carry an invite. ' +
          'Use the bridge address the owner gave you, drop --protocol 3, or drop --invite on a server that allows your address.',
      );
    }
    return { ...checkInvite(given, '--invite'), saved: false };
  }
  // invite.link was kept from a bridge: a direct connection is judged by --tcp-allow instead.
  if (server.kind !== 'ws') return null;
  const saved = await readSavedInvite(dir);
  if (saved === null) return null;
  return { ...checkInvite(saved, `The invite kept in ${path.join(dir, INVITE_LINK)}`), saved: true };
}

/**
 * Checks every file before any is sent, so one wrong argument among several sends none and
 * the person learns of all of them at once (a usage error: exit 2).
 */
async function prepareFiles(filePaths: readonly string[], protocol: 3 | 4): Promise<LocalFile[]> {
  const checked = await Promise.allSettled(filePaths.map((f) => prepareFile(f, protocol)));
  const wrong = checked.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  for (const e of wrong) if (!(e instanceof CliError)) throw e;
  if (wrong.length > 0) {
    const lines = wrong.map((e) => `  ${(e as CliError).message}`);
    const of = filePaths.length > 1 ? ` of ${filePaths.length} files` : ' file';
    throw new CliError(
      'CLI_ERR_FILE',
      `${wrong.length}${of} cannot be sent, so none was sent:\n${lines.join('\n')}`,
    );
  }
  const files: LocalFile[] = [];
  for (const r of checked) {
    const file = (r as PromiseFulfilledResult<LocalFile>).value;
    const twin = files.find((other) => other.name === file.name);
    if (twin) {
      throw new CliError(
        'CLI_ERR_USAGE',
        `${shown(twin.path)} and ${shown(file.path)} have the same name "${file.name}"; the server keeps one file per ` +
          'name, so the second would replace the first. Send them in separate runs or rename one.',
      );
    }
    files.push(file);
  }
  return files;
}

async function transfer(plan: Plan, io: CliIo): Promise<number> {
  const say = (text: string) => io.stderr.write(`${text}\n`);
  const where = describeAddress(plan.server);
  const transport = await openTransport(plan.server, {
    invite: plan.invite?.token,
    timeoutMs: plan.timeoutMs,
  });
  const onAbort = () => transport.close();
  io.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const session = new ClientSession({
      transport,
      encryptorFactory: nodeEncryptorFactory,
      padLastPacket: plan.padLastPacket === true,
    });
    const onEvent = (e: EstablishEvent) => {
      if (e.type === 'reconnected') say(`Reconnected to ${where} as "${plan.name}".`);
      else if (e.type === 'reconnect-rejected') {
        say(
          `The server at ${where} rejected the reconnect of "${plan.name}" (1606): it does not know this ` +
            'client any more. Registering anew.',
        );
      } else if (e.type === 'registered') {
        say(`Registered with ${where} as "${plan.name}" (client ID ${bytesToHex(e.clientId)}).`);
      }
    };
    // A handshake the bridge refused for its invite opens, then closes with 4010-4013.
    const source = plan.invite?.saved ? path.join(plan.dir, INVITE_LINK) : null;
    const est = await establishIdentity(session, {
      name: plan.name,
      existing: plan.identity ? { clientId: plan.identity.clientId } : undefined,
      unwrap: plan.unwrap,
      createKeyPair,
      onEvent,
    }).catch(async (e: unknown) => {
      // A send can fail as the close frame arrives, before the close code is known.
      await Promise.race([transport.whenClosed?.(), new Promise((r) => setTimeout(r, CLOSE_WAIT_MS))]);
      const refused = inviteRefusal(transport.closeCode ?? null, source);
      if (refused === null) throw orTimeout(e, transport);
      return refused;
    });
    if (typeof est === 'string') {
      say(`Error: ${est}`);
      return EXIT_FAILED;
    }
    // The bridge took it: keep it for the next runs (a refused one never replaces a good one).
    if (plan.invite && !plan.invite.saved) await keepInvite(plan, say);
    if (est.registered && est.keyPair) {
      // A registration after a 1606: the identity it replaces is kept, not lost.
      if (plan.identity) {
        const kept = await keepReplacedIdentity(plan.dir);
        if (kept !== null)
          say(
            `Kept the identity being replaced in ${kept} and ${PRIV_KEY_REPLACED}: if ${where} is not the server it was registered with, move them back to me.info and priv.key.`,
          );
      }
      await writeIdentity(plan.dir, {
        name: plan.name,
        clientId: est.clientId,
        privateKeyPkcs8: est.keyPair.privateKeyPkcs8,
      });
      say(`Saved the new identity to ${path.join(plan.dir, ME_INFO)} and priv.key.`);
    }

    const report = fileReporter(plan.json, io.stdout);
    let failed = 0;
    for (const [i, file] of plan.files.entries()) {
      const reporter = new ProgressReporter(io.stderr);
      const started = performance.now();
      const seconds = () => (performance.now() - started) / 1000;
      try {
        const res = await session.sendFile(file, est.aesKey, {
          signal: io.signal,
          onProgress: (p) => reporter.update(p),
        });
        reporter.finish();
        report(file, { status: 'verified', crc: res.cksum, seconds: seconds() });
      } catch (caught) {
        reporter.finish();
        failed++;
        const e = orTimeout(caught, transport);
        if (!(e instanceof ClientError)) throw e;
        // Protocol 3 cannot resume: the next run sends this file from its start.
        if (e.code === 'CLIENT_ERR_CANCELLED' || io.signal?.aborted)
          throw new Interrupted(file.name, false, 3, { cause: e });
        if (e.code === 'CLIENT_ERR_CRC_MISMATCH') {
          const attempts = e.details.attempts ?? MAX_SEND_ATTEMPTS;
          report(file, { status: 'failed', crc: e.details.cksum ?? null, seconds: seconds(), attempts });
          say(`Error: ${describeClientError(e)}`);
          continue;
        }
        report(file, { status: 'failed', crc: null, seconds: seconds(), reason: shortReason(e) });
        say(`Error: ${describeClientError(e)}`);
        if (plan.invite && isFileRefusal(e)) {
          say(
            'With an invite, the likely cause is that this file is over the space this invite allows, ' +
              'or the invite was revoked; ask the owner of the server.',
          );
        }
        if (session.closed) {
          for (const rest of plan.files.slice(i + 1)) {
            failed++;
            report(rest, { status: 'not-sent', crc: null, seconds: 0, reason: 'not sent' });
          }
          break;
        }
      }
    }
    return failed === 0 ? EXIT_OK : EXIT_FAILED;
  } finally {
    io.signal?.removeEventListener('abort', onAbort);
    if (transport.end) await transport.end();
    else transport.close();
  }
}

interface FileResult {
  status: 'verified' | 'failed' | 'not-sent';
  crc: number | null;
  seconds: number;
  attempts?: number;
  reason?: string;
}

/** One line per file on stdout: readable, or one JSON object with --json. */
function fileReporter(json: boolean, out: CliIo['stdout']): (file: LocalFile, r: FileResult) => void {
  if (json) {
    return (file, r) => {
      const line = {
        name: file.name,
        path: file.path,
        size: file.size,
        ...r,
        seconds: jsonSeconds(r.seconds),
      };
      out.write(`${JSON.stringify(line)}\n`);
    };
  }
  return (file, r) => {
    const head = `${file.name}  ${file.size} bytes  CRC ${r.crc ?? '-'}`;
    if (r.status === 'verified') out.write(`${head}  verified${formatTiming(file.size, r.seconds)}\n`);
    else if (r.attempts !== undefined) out.write(`${head}  FAILED after ${r.attempts} attempts\n`);
    else out.write(`${head}  FAILED (${r.reason})\n`);
  };
}

/** A 1607 answering a file's packets: with an invite, the server's quota check or a revocation. */
function isFileRefusal(e: ClientError): boolean {
  return e.code === 'CLIENT_ERR_SERVER_ERROR' && e.details.requestCode === RequestCode.SendFile;
}

function shortReason(e: ClientError): string {
  switch (e.code) {
    case 'CLIENT_ERR_SERVER_ERROR':
      return 'server error';
    case 'CLIENT_ERR_CONNECTION_CLOSED':
      return 'connection closed';
    case 'CLIENT_ERR_SOURCE':
      return 'file changed while sending';
    case 'CLIENT_ERR_PROTOCOL':
    case 'CLIENT_ERR_UNEXPECTED_RESPONSE':
      return 'bad answer from server';
    default:
      return e.code.replace('CLIENT_ERR_', '').toLowerCase().replaceAll('_', ' ');
  }
}

/**
 * After the server refused the invite as not valid (Error 5: forged, expired or revoked) or
 * wanted one (Error 4): which invite it was and what to do, or "". With a protocol 3 identity
 * in the folder the refusal is most likely of the slot it holds (protocol-fallback.ts says so).
 */
export function inviteNextStep(
  e: ClientError,
  plan: Pick<Plan, 'dir' | 'identity'> & { invite: { saved: boolean } | null },
): string {
  if (e.code !== 'CLIENT_ERR_V4_REFUSED') return '';
  if (e.details.wireCode === V4ErrorCode.InviteRequired && plan.invite === null)
    return ' Pass the invite link the owner of the server gave you with --invite LINK.';
  if (e.details.wireCode !== V4ErrorCode.InviteInvalid || plan.invite === null || plan.identity !== null)
    return '';
  return plan.invite.saved
    ? ` It was the invite kept in ${path.join(plan.dir, INVITE_LINK)}: ask the owner of the server for a new link and pass it with --invite LINK (it replaces the kept one).`
    : ' It was the invite given with --invite: ask the owner of the server for a new link and pass it with --invite LINK.';
}

/** The sentence a person sees for a session failure. */
export function describeClientError(e: ClientError): string {
  switch (e.code) {
    case 'CLIENT_ERR_NAME_TAKEN':
      return `${e.message.replace(/ Choose another name\.$/, '')} Choose another name with --name (and a separate --dir for its identity files).`;
    case 'CLIENT_ERR_SERVER_ERROR':
      return `${e.message}`;
    case 'CLIENT_ERR_PROTOCOL':
      return e.details.answeredHttp
        ? `${e.message} To send through the bridge, give it as --server ws://HOST:PORT/; the file server's own port is 1256 unless it was given another.`
        : e.message;
    default:
      return e.message;
  }
}
