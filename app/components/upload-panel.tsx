'use client';
import { useId, useRef } from 'react';
import { isSettled, timeLeft, totals, type UploadItem } from '@/browser/upload-queue';
import { MAX_SEND_ATTEMPTS } from '@/lib/protocol';
/** Drop zone, the sticky overall bar, the queue with per-file progress, and refused files. */
import { RECORD_SIZE } from '@/lib/protocol/v4/constants';
import { formatBytes, formatDuration, formatSpeed, percent } from './format';
import { renameReason } from './rename-reason';
import type { RefusedFile } from './transfer-types';
import { Button, Card, ProgressBar, type Tone } from './ui';
import { FILE_LIMIT_TEXT, failureSentence, tooLargeSentence } from './upload-rules';

function phaseLabel(it: UploadItem): { text: string; tone: Tone } {
  switch (it.phase) {
    case 'queued':
      return { text: 'Waiting', tone: 'muted' };
    case 'sending':
      return it.attempt > 1
        ? { text: `Retrying ${it.attempt}/${MAX_SEND_ATTEMPTS}: encrypting & sending`, tone: 'warn' }
        : { text: 'Encrypting & sending', tone: 'accent' };
    case 'verifying':
      return it.attempt > 1
        ? { text: `Retrying ${it.attempt}/${MAX_SEND_ATTEMPTS}: verifying`, tone: 'warn' }
        : { text: 'Verifying', tone: 'accent' };
    case 'retrying':
      return {
        text: `Retrying ${Math.min(it.attempt + 1, MAX_SEND_ATTEMPTS)}/${MAX_SEND_ATTEMPTS}`,
        tone: 'warn',
      };
    case 'verified':
      return { text: 'Verified', tone: 'ok' };
    case 'failed':
      return it.interrupted ? { text: 'Waiting to resend', tone: 'warn' } : { text: 'Failed', tone: 'bad' };
    case 'cancelled':
      return { text: 'Cancelled', tone: 'muted' };
  }
}

const BADGE: Record<Tone, string> = {
  accent: 'bg-accent-soft text-accent',
  ok: 'bg-ok-soft text-ok',
  warn: 'bg-warn-soft text-warn',
  bad: 'bg-bad-soft text-bad',
  muted: 'bg-line/60 text-muted',
};

const running = (it: UploadItem) =>
  it.phase === 'sending' || it.phase === 'verifying' || it.phase === 'retrying';

function ItemRow(props: {
  item: UploadItem;
  now: number;
  protocol: 3 | 4 | null;
  onCancel(): void;
  onRetry(): void;
}) {
  const it = props.item;
  const label = phaseLabel(it);
  const done = it.phase === 'verified' ? it.size : it.bytesRead;
  const eta = timeLeft(it, props.now);
  return (
    <li
      className="flex flex-col gap-2 py-4 first:pt-0 last:pb-0"
      data-testid="upload-item"
      data-name={it.file.name}
      data-phase={it.phase}
      data-attempt={it.attempt}
      data-protocol={it.protocol}
      data-resumed-from={it.resumedFrom}
    >
      <div className="flex items-start justify-between gap-3">
        <div className="min-w-0">
          <p className="wrap-anywhere font-medium">{it.file.name}</p>
          {it.storedName !== it.file.name && (
            <p className="text-xs text-muted" data-testid="stored-name">
              Stored as <span className="break-all font-mono">{it.storedName}</span> (a number may be added if
              that name is taken). {renameReason(it, props.protocol)}
            </p>
          )}
          {it.replaces && (
            <p className="text-xs text-warn" data-testid="replaces">
              {it.phase === 'verified'
                ? 'Replaced the file of the same name you sent before.'
                : 'Replaces the file of the same name you sent before.'}
            </p>
          )}
        </div>
        <span
          className={`shrink-0 whitespace-nowrap rounded-full px-2.5 py-0.5 text-xs font-semibold ${BADGE[label.tone]}`}
          data-testid="upload-phase"
        >
          {label.text}
        </span>
      </div>
      <ProgressBar
        value={it.phase === 'verified' ? 100 : percent(done, it.size)}
        tone={label.tone}
        size="sm"
        label={`${it.file.name}: ${label.text}`}
        valueText={`${formatBytes(done)} of ${formatBytes(it.size)}`}
      />
      <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-1 text-xs text-muted">
        <span className="tabular-nums" data-testid="upload-figures">
          {formatBytes(done)} of {formatBytes(it.size)}
          {it.phase === 'sending' && it.resumedFrom
            ? ` · resumed at ${formatBytes(Math.min(it.size, it.resumedFrom * RECORD_SIZE))}`
            : ''}
          {it.phase === 'sending' && it.speed ? ` · ${formatSpeed(it.speed)}` : ''}
          {eta !== undefined ? ` · ${formatDuration(eta)} left` : ''}
        </span>
        <span className="flex gap-1">
          {!isSettled(it) && (
            <Button variant="ghost" className="min-h-8 px-2 py-1 text-xs" onClick={props.onCancel}>
              Cancel<span className="sr-only"> {it.file.name}</span>
            </Button>
          )}
          {isSettled(it) && (it.phase === 'failed' || it.phase === 'cancelled') && (
            <Button variant="ghost" className="min-h-8 px-2 py-1 text-xs" onClick={props.onRetry}>
              Send again<span className="sr-only"> {it.file.name}</span>
            </Button>
          )}
        </span>
      </div>
      {it.note && (
        <p className="text-pretty text-sm text-warn" data-testid="upload-note">
          {it.note}
        </p>
      )}
      {it.phase === 'verified' && it.sha256 && (
        <details className="text-xs text-muted" data-testid="upload-details">
          <summary className="cursor-pointer select-none">Details</summary>
          <p className="mt-1">
            SHA-256 of what the server stored:{' '}
            <span className="break-all font-mono" data-testid="upload-sha256">
              {it.sha256}
            </span>
          </p>
          <p className="mt-0.5">
            Sent with protocol v4: every piece was authenticated as it arrived.
            {it.resumedFrom
              ? ` Resumed after an interruption from piece ${it.resumedFrom} (${formatBytes(it.resumedFrom * RECORD_SIZE)} in).`
              : ''}
          </p>
        </details>
      )}
      {it.phase === 'failed' && (
        <div className={`text-sm ${it.interrupted ? 'text-warn' : 'text-bad'}`} data-testid="upload-error">
          <p className="text-pretty">{failureSentence(it.code, !!it.interrupted, !!it.overInvite, it)}</p>
          {it.message && (
            <details className="mt-1 text-xs text-muted">
              <summary className="cursor-pointer select-none font-medium">
                Details for the server’s owner
              </summary>
              <p className="mt-1 break-words">
                {it.message}
                {it.code ? ` (${it.code})` : ''}
              </p>
            </details>
          )}
        </div>
      )}
    </li>
  );
}

/** The summary line: every row counted, failed and cancelled said apart from sent. */
export function summary(items: UploadItem[]): string {
  const t = totals(items);
  const parts = [`${t.verified} of ${t.files} ${t.files === 1 ? 'file' : 'files'} sent`];
  if (t.failed > 0) parts.push(`${t.failed} failed`);
  if (t.cancelled > 0) parts.push(`${t.cancelled} cancelled`);
  return parts.join(' · ');
}

/** The file being sent and the whole queue's figures, stuck to the top while scrolling. */
function OverallBar({ items, now }: { items: UploadItem[]; now: number }) {
  const { bytes: total, sent, failed, busy } = totals(items);
  const current = items.find(running);
  // While verifying nothing leaves this browser: no speed then.
  const speed = current?.phase === 'sending' ? current.speed : undefined;
  const eta = current ? timeLeft(current, now) : undefined;
  // The rest of the queue at the current file's speed (an estimate only once that one has one).
  const rest =
    eta !== undefined && speed
      ? eta + items.filter((it) => it.phase === 'queued').reduce((s, it) => s + it.size, 0) / speed
      : undefined;
  return (
    <div
      className="sticky top-0 z-10 -mx-5 flex flex-col gap-2 border-b border-line bg-card/95 px-5 py-3 backdrop-blur sm:-mx-6 sm:px-6"
      data-testid="overall"
    >
      <div className="flex flex-wrap items-baseline justify-between gap-x-3 gap-y-0.5 text-sm">
        <span className="font-medium" data-testid="overall-summary">
          {summary(items)}
        </span>
        <span className="tabular-nums text-muted">
          {formatBytes(sent)} of {formatBytes(total)}
          {busy && speed ? ` · ${formatSpeed(speed)}` : ''}
          {busy && rest !== undefined ? ` · ${formatDuration(rest)} left` : ''}
        </span>
      </div>
      <ProgressBar
        value={percent(sent, total)}
        label="All files"
        tone={failed > 0 ? 'warn' : busy ? 'accent' : 'ok'}
        valueText={`${formatBytes(sent)} of ${formatBytes(total)}`}
      />
      {current && (
        <p className="truncate text-xs text-muted" data-testid="overall-current">
          Sending {current.file.name}
        </p>
      )}
    </div>
  );
}

/** What the page says about sizes under the button: v3's 4 GiB, v4's resume. */
function sizeHint(protocol: 3 | 4 | null): string {
  if (protocol === 3) return ` Files ${FILE_LIMIT_TEXT} each.`;
  if (protocol === 4) return ' An upload cut by a lost connection carries on where it stopped.';
  return '';
}

export function UploadPanel(props: {
  items: UploadItem[];
  refused: RefusedFile[];
  canSend: boolean;
  /** Said instead of where files go while they cannot go yet (upload-rules.ts waitingHint). */
  waitHint?: string;
  /** The connection's protocol (what the hint under the button says about sizes). */
  protocol: 3 | 4 | null;
  serverHost: string;
  /** performance.now() of this render (time left is shown only once it means something). */
  now: number;
  onFiles(files: File[]): void;
  onCancel(id: string): void;
  onRetry(id: string): void;
  onClearFinished(): void;
  onDismissRefused(): void;
}) {
  const inputId = useId();
  const hintId = useId();
  const input = useRef<HTMLInputElement>(null);
  const { items } = props;
  const { finished } = totals(items);
  const compact = items.length > 0;

  return (
    <Card labelledBy="upload-title">
      <h2 id="upload-title" className="sr-only">
        Send files
      </h2>
      <div
        data-testid="dropzone"
        className={`flex flex-col items-center gap-3 rounded-xl border-2 border-dashed border-line text-center ${
          compact ? 'px-4 py-5 sm:flex-row sm:justify-center' : 'px-4 py-10'
        }`}
      >
        <svg
          aria-hidden="true"
          viewBox="0 0 24 24"
          className={`${compact ? 'hidden h-7 w-7 sm:block' : 'h-10 w-10'} text-accent`}
          fill="none"
          stroke="currentColor"
          strokeWidth="1.7"
        >
          <path
            d="M12 16V4m0 0 4 4m-4-4-4 4M4 16v2a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2v-2"
            strokeLinecap="round"
            strokeLinejoin="round"
          />
        </svg>
        <p id={hintId} className={compact ? 'text-sm text-muted' : 'text-base font-medium'}>
          Drop files anywhere on this page, or
        </p>
        <input
          ref={input}
          id={inputId}
          type="file"
          multiple
          className="sr-only"
          // The button below opens it: a second, invisible tab stop would only confuse.
          tabIndex={-1}
          aria-hidden="true"
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length > 0) props.onFiles(files);
          }}
        />
        <Button variant="primary" onClick={() => input.current?.click()}>
          Choose files…
        </Button>
        {!compact && (
          <p className="max-w-md text-pretty text-xs text-muted">
            {props.canSend
              ? `Encrypted here with AES-256, then sent to ${props.serverHost}.${sizeHint(props.protocol)}`
              : (props.waitHint ?? 'Files wait here until the connection is ready.')}
          </p>
        )}
      </div>

      {props.refused.length > 0 && (
        <div
          role="alert"
          className="mt-4 rounded-xl border border-bad/40 bg-bad-soft p-4 text-sm"
          data-testid="refused"
        >
          <ul className="flex flex-col gap-1">
            {props.refused.map((f) => (
              <li key={f.name} className="break-words">
                {tooLargeSentence(f.name, f.size)} It was not added.
              </li>
            ))}
          </ul>
          <Button
            variant="ghost"
            className="mt-2 -ml-2 min-h-8 px-2 py-1 text-xs"
            onClick={props.onDismissRefused}
          >
            Dismiss
          </Button>
        </div>
      )}

      {items.length > 0 && (
        <div className="mt-4">
          <OverallBar items={items} now={props.now} />
          <ul className="mt-4 divide-y divide-line" aria-label="Upload queue">
            {items.map((it) => (
              <ItemRow
                key={it.id}
                item={it}
                now={props.now}
                protocol={props.protocol}
                onCancel={() => props.onCancel(it.id)}
                onRetry={() => props.onRetry(it.id)}
              />
            ))}
          </ul>
          {finished > 0 && (
            <div className="mt-4 flex justify-end">
              <Button variant="ghost" onClick={props.onClearFinished}>
                Clear finished
              </Button>
            </div>
          )}
        </div>
      )}
    </Card>
  );
}
