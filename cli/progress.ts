/**
 * Upload progress on stderr: a redrawn bar (bytes, MiB/s, ETA) on a terminal, plain lines
 * every few seconds otherwise. One reporter per file.
 */
import { formatBytes, type SendProgress } from '../lib/client';
import { MAX_SEND_ATTEMPTS } from '../lib/protocol';

const MIB = 1024 * 1024;
/** Redraw interval of the bar on a terminal. */
const TTY_INTERVAL_MS = 100;
/** Interval of plain progress lines when stderr is not a terminal. */
const PLAIN_INTERVAL_MS = 3000;
const BAR_WIDTH = 24;

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Shorter transfers get no time or speed: the figure would be noise (start-up, one RTT). */
export const MIN_TIMED_SECONDS = 1;

/** "  in 2.4 s, 120.3 MiB/s" for a summary line, or "" for a sub-second transfer. */
export function formatTiming(bytes: number, seconds: number): string {
  if (!(seconds >= MIN_TIMED_SECONDS)) return '';
  return `  in ${seconds.toFixed(1)} s, ${(bytes / MIB / seconds).toFixed(1)} MiB/s`;
}

/** Seconds as JSON gives them: to the millisecond. */
export function jsonSeconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${rest}` : `${m}:${rest}`;
}

/** How a file's next attempt came about, for the line that announces it. */
export type RetryKind =
  /** Protocol 3: the server's CRC differed from ours; the whole file is sent again. */
  | 'crc'
  /** Protocol 4: a new connection resumes the upload where the server has it. */
  | 'resume'
  /** Protocol 4: a new connection, the server held nothing of the upload yet: from the start. */
  | 'again';

export interface ProgressOptions {
  now?: () => number;
  /** What a new attempt is (default 'crc', protocol 3's only retry). */
  retry?: RetryKind;
  /** Attempts in all, for "attempt N of M" (default MAX_SEND_ATTEMPTS). */
  attempts?: number;
  /**
   * What the answer after the last byte waits for ("the server is checking its SHA-256"):
   * said once WAIT_NOTICE_MS pass with the whole file sent and no answer (finish() not
   * called). Unset: nothing is said (protocol 3 shows its own "checking CRC" phase).
   */
  waitingFor?: string;
}

/** How long after the last byte the CLI says it is waiting for the server. */
export const WAIT_NOTICE_MS = 1500;

export class ProgressReporter {
  readonly #out: ProgressOutput;
  readonly #tty: boolean;
  readonly #now: () => number;
  readonly #retry: RetryKind;
  readonly #attempts: number;
  readonly #waitingFor: string | undefined;
  #attemptStart = 0;
  /** bytesRead at the attempt's first report: what the server had (a resume) is no speed of ours. */
  #attemptBytes = 0;
  #attempt = 0;
  #lastDraw = 0;
  #drawn = false;
  #waitTimer: ReturnType<typeof setTimeout> | null = null;
  #waiting = false;

  constructor(out: ProgressOutput, opts: ProgressOptions = {}) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#now = opts.now ?? (() => performance.now());
    this.#retry = opts.retry ?? 'crc';
    this.#attempts = opts.attempts ?? MAX_SEND_ATTEMPTS;
    this.#waitingFor = opts.waitingFor;
  }

  update(p: SendProgress): void {
    const now = this.#now();
    if (p.attempt !== this.#attempt) {
      this.#attempt = p.attempt;
      this.#attemptStart = now;
      this.#attemptBytes = p.bytesRead;
      this.#lastDraw = now;
      if (p.attempt > 1)
        this.#line(`${p.fileName}: ${RETRY_TEXT[this.#retry]} (attempt ${p.attempt} of ${this.#attempts})`);
    }
    if (this.#waiting) return;
    if (p.phase === 'sending') {
      if (p.bytesRead >= p.size) this.#awaitAnswer(p.fileName);
      const interval = this.#tty ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS;
      if (now - this.#lastDraw < interval) return;
      this.#lastDraw = now;
      this.#show(p, now);
    } else if (p.phase === 'verifying' && this.#tty) {
      this.#show(p, now);
    }
  }

  /** Clears the bar before a summary or message is printed (the answer came: no more waiting). */
  finish(): void {
    if (this.#waitTimer !== null) clearTimeout(this.#waitTimer);
    this.#waitTimer = null;
    if (this.#tty && this.#drawn) this.#out.write('\r\x1b[2K');
    this.#drawn = false;
  }

  /** The whole file is sent: if the answer is slow to come, say what it waits for. */
  #awaitAnswer(fileName: string): void {
    const what = this.#waitingFor;
    if (what === undefined || this.#waitTimer !== null) return;
    this.#waitTimer = setTimeout(() => {
      this.#waitTimer = null;
      this.#waiting = true;
      const text = `${fileName}: sent; ${what}...`;
      if (this.#tty) {
        this.#out.write(`\r\x1b[2K${text}`);
        this.#drawn = true;
      } else this.#out.write(`${text}\n`);
    }, WAIT_NOTICE_MS);
    // Never what keeps the process alive.
    this.#waitTimer.unref?.();
  }

  #show(p: SendProgress, now: number): void {
    const elapsed = (now - this.#attemptStart) / 1000;
    // The speed of this attempt: bytes the server had before it (a resume) took no time now.
    const rate = elapsed > 0 ? Math.max(0, p.bytesRead - this.#attemptBytes) / elapsed : 0;
    const eta = rate > 0 ? (p.size - p.bytesRead) / rate : Number.POSITIVE_INFINITY;
    const fraction = p.size > 0 ? p.bytesRead / p.size : 1;
    const stats =
      `${formatBytes(p.bytesRead)} / ${formatBytes(p.size)}  ${(rate / MIB).toFixed(1)} MiB/s  ` +
      (p.phase === 'verifying' ? 'checking CRC' : `ETA ${formatDuration(eta)}`) +
      (p.attempt > 1 ? `  attempt ${p.attempt}/${this.#attempts}` : '');
    if (this.#tty) {
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}]`;
      const text = `${p.fileName} ${bar} ${String(Math.floor(fraction * 100)).padStart(3)}%  ${stats}`;
      // Stay on one line (a wrapped line cannot be redrawn); unknown or tiny widths: no cut.
      const width =
        this.#out.columns && this.#out.columns >= 40 ? this.#out.columns : Number.POSITIVE_INFINITY;
      this.#out.write(`\r\x1b[2K${text.slice(0, width - 1)}`);
      this.#drawn = true;
    } else {
      this.#out.write(`${p.fileName}: ${Math.floor(fraction * 100)}%  ${stats}\n`);
    }
  }

  #line(text: string): void {
    this.finish();
    this.#out.write(`${text}\n`);
  }
}

const RETRY_TEXT: Readonly<Record<RetryKind, string>> = {
  crc: 'CRC mismatch, sending again',
  resume: 'reconnected; resuming where the server left off',
  again: 'reconnected; sending it again',
};
