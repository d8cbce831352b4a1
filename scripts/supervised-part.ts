/**
 * One part that `npm start` runs: spawned with piped output, its JSON log lines shown as
 * they are (piped, or SFT_LOG_FORMAT=json) or as readable lines (a terminal), ready once it
 * logs `listening` (server, bridge) or answers HTTP (the web app), and restarted with backoff
 * when it dies after having been ready (scripts/restart-policy.ts).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { RestartPolicy } from './restart-policy';

export interface PartSpec {
  name: string;
  cmd: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Ready on its `listening` event, or once this URL answers HTTP. */
  ready: { event: 'listening' } | { http: string };
}

export interface PartEvents {
  /** A line of its output, to show. */
  line(part: string, line: string): void;
  /** Ready: at the first start and after each restart. */
  ready(part: string, address: string, restarted: boolean): void;
  /** Died; `restartInMs` is undefined when it died before it was ever ready or keeps dying. */
  died(part: string, how: string, restartInMs: number | undefined, recent: number): void;
}

export class SupervisedPart {
  readonly #spec: PartSpec;
  readonly #events: PartEvents;
  readonly #policy = new RestartPolicy();
  #proc: ChildProcess | undefined;
  #everReady = false;
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;

  constructor(spec: PartSpec, events: PartEvents) {
    this.#spec = spec;
    this.#events = events;
  }

  get name(): string {
    return this.#spec.name;
  }

  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  start(): void {
    const restarted = this.#everReady;
    const proc = spawn(this.#spec.cmd, this.#spec.args, {
      cwd: this.#spec.cwd,
      env: this.#spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#proc = proc;
    let ready = false;
    const becameReady = (address: string) => {
      if (ready || proc !== this.#proc) return;
      ready = true;
      this.#everReady = true;
      this.#events.ready(this.name, address, restarted);
    };
    for (const stream of [proc.stdout, proc.stderr]) {
      let rest = '';
      stream.setEncoding('utf8').on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          this.#events.line(this.name, line);
          const event = listeningEvent(line);
          if (event && 'event' in this.#spec.ready) becameReady(event);
        }
      });
    }
    const { ready: readiness } = this.#spec;
    if ('http' in readiness)
      void waitForHttp(readiness.http, proc).then((ok) => ok && becameReady(readiness.http));
    proc.once('exit', (code, signal) => {
      if (this.#stopping) return;
      const how = signal ?? `exit code ${code}`;
      if (!this.#everReady) {
        this.#events.died(this.name, how, undefined, 1);
        return;
      }
      const decision = this.#policy.died(Date.now());
      this.#events.died(this.name, how, decision.restart ? decision.delayMs : undefined, decision.recent);
      if (decision.restart) this.#restartTimer = setTimeout(() => this.start(), decision.delayMs);
    });
  }

  /** SIGTERMs it (SIGKILL after `graceMs`) and resolves once it is gone. */
  stop(graceMs = 5000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const proc = this.#proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      proc.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      proc.kill('SIGTERM');
    });
  }

  kill(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    this.#proc?.kill('SIGKILL');
  }
}

/** "host:port" of a `listening` JSON log line, else undefined. */
function listeningEvent(line: string): string | undefined {
  if (!line.startsWith('{') || !line.includes('"listening"')) return undefined;
  try {
    const o = JSON.parse(line) as { event?: string; host?: string; port?: number };
    if (o.event !== 'listening') return undefined;
    return `${o.host?.includes(':') ? `[${o.host}]` : o.host}:${o.port}`;
  } catch {
    return undefined;
  }
}

/** True once `url` answers HTTP at all (any status); false if `proc` exits first. */
async function waitForHttp(url: string, proc: ChildProcess): Promise<boolean> {
  while (proc.exitCode === null && proc.signalCode === null) {
    try {
      await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(30_000) });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return false;
}
