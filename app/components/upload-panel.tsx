'use client';
/** Drop zone, the queue with per-file progress, and the overall bar. */
import { type DragEvent, useId, useRef, useState } from 'react';
import { isFinished, totals, type UploadItem } from '@/browser/upload-queue';
import { MAX_SEND_ATTEMPTS } from '@/lib/protocol';
import { formatBytes, formatDuration, formatSpeed, percent } from './format';
import { Button, Card, ProgressBar, type Tone } from './ui';

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
      return { text: 'Failed', tone: 'bad' };
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

function ItemRow(props: { item: UploadItem; onCancel(): void; onRetry(): void }) {
  const it = props.item;
  const label = phaseLabel(it);
  const done = it.phase === 'verified' ? it.size : it.bytesRead;
  const running = it.phase === 'sending' || it.phase === 'verifying' || it.phase === 'retrying';
  const eta = running && it.speed ? (it.size - it.bytesRead) / it.speed : undefined;
  return (
    <li
      className="flex flex-col gap-2 py-4 first:pt-0 last:pb-0"
      data-testid="upload-item"
      data-name={it.file.name}
      data-phase={it.phase}
      data-attempt={it.attempt}
    >
      <div className="flex items-start justify-between gap-3">
        <div className="min-w-0">
          <p className="truncate font-medium" title={it.file.name}>
            {it.file.name}
          </p>
          {it.wireName !== it.file.name && (
            <p className="truncate text-xs text-muted">stored as {it.wireName}</p>
          )}
        </div>
        <span
          className={`shrink-0 rounded-full px-2.5 py-0.5 text-xs font-semibold ${BADGE[label.tone]}`}
          data-testid="upload-phase"
        >
          {label.text}
        </span>
      </div>
      <ProgressBar
        value={it.phase === 'verified' ? 100 : percent(done, it.size)}
        tone={label.tone}
        label={`${it.file.name}: ${label.text}`}
        valueText={`${formatBytes(done)} of ${formatBytes(it.size)}`}
      />
      <div className="flex flex-wrap items-center justify-between gap-x-4 gap-y-1 text-xs text-muted">
        <span className="tabular-nums">
          {formatBytes(done)} of {formatBytes(it.size)}
          {running && it.speed ? ` · ${formatSpeed(it.speed)}` : ''}
          {eta !== undefined && it.phase === 'sending' ? ` · ${formatDuration(eta)} left` : ''}
          {it.phase === 'verified' && it.cksum !== undefined ? ` · CRC ${it.cksum}` : ''}
        </span>
        <span className="flex gap-1">
          {!isFinished(it.phase) && (
            <Button variant="ghost" className="min-h-8 px-2 py-1 text-xs" onClick={props.onCancel}>
              Cancel<span className="sr-only"> {it.file.name}</span>
            </Button>
          )}
          {(it.phase === 'failed' || it.phase === 'cancelled') && (
            <Button variant="ghost" className="min-h-8 px-2 py-1 text-xs" onClick={props.onRetry}>
              Send again<span className="sr-only"> {it.file.name}</span>
            </Button>
          )}
        </span>
      </div>
      {it.phase === 'failed' && it.message && (
        <p className="text-sm text-bad" data-testid="upload-error">
          {it.message}
        </p>
      )}
    </li>
  );
}

export function UploadPanel(props: {
  items: UploadItem[];
  canSend: boolean;
  onFiles(files: File[]): void;
  onCancel(id: string): void;
  onRetry(id: string): void;
  onClearFinished(): void;
}) {
  const [over, setOver] = useState(false);
  const inputId = useId();
  const hintId = useId();
  const input = useRef<HTMLInputElement>(null);
  const { items } = props;

  const onDrop = (ev: DragEvent) => {
    ev.preventDefault();
    setOver(false);
    const files = Array.from(ev.dataTransfer.files);
    if (files.length > 0) props.onFiles(files);
  };

  const { files, bytes: total, sent, finished, verified, failed, busy } = totals(items);

  return (
    <Card labelledBy="upload-title">
      <h2 id="upload-title" className="text-lg font-semibold">
        Send files
      </h2>
      {/* biome-ignore lint/a11y/noStaticElementInteractions: a drop target only; the "Choose files" button inside is the keyboard and screen-reader path. */}
      <div
        onDragOver={(ev) => {
          ev.preventDefault();
          ev.dataTransfer.dropEffect = 'copy';
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        data-testid="dropzone"
        className={`mt-4 flex flex-col items-center gap-3 rounded-xl border-2 border-dashed px-4 py-8 text-center transition ${
          over ? 'border-accent bg-accent-soft' : 'border-line'
        }`}
      >
        <svg
          aria-hidden="true"
          viewBox="0 0 24 24"
          className="h-9 w-9 text-accent"
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
        <p id={hintId} className="text-sm text-muted">
          Drop files here, or
        </p>
        <input
          ref={input}
          id={inputId}
          type="file"
          multiple
          className="sr-only"
          aria-describedby={hintId}
          onChange={(e) => {
            const files = Array.from(e.target.files ?? []);
            e.target.value = '';
            if (files.length > 0) props.onFiles(files);
          }}
        />
        <Button variant="primary" onClick={() => input.current?.click()}>
          Choose files…
        </Button>
        <p className="text-xs text-muted">
          {props.canSend
            ? 'Encrypted here with AES-256 before sending; up to 4 GiB per file.'
            : 'Files wait in the queue until the connection is ready.'}
        </p>
      </div>

      {items.length > 0 && (
        <div className="mt-6">
          <div className="mb-4 flex flex-col gap-2" data-testid="overall">
            <div className="flex flex-wrap items-baseline justify-between gap-2 text-sm">
              <span className="font-medium">
                {finished} of {files} {files === 1 ? 'file' : 'files'} done
                {verified > 0 && <span className="text-ok"> · {verified} verified</span>}
                {failed > 0 && <span className="text-bad"> · {failed} failed</span>}
              </span>
              <span className="tabular-nums text-muted">
                {formatBytes(sent)} of {formatBytes(total)}
              </span>
            </div>
            <ProgressBar
              value={percent(sent, total)}
              label="All files"
              tone={failed > 0 ? 'warn' : busy ? 'accent' : 'ok'}
              valueText={`${formatBytes(sent)} of ${formatBytes(total)}`}
            />
          </div>
          <ul className="divide-y divide-line border-t border-line pt-4" aria-label="Upload queue">
            {items.map((it) => (
              <ItemRow
                key={it.id}
                item={it}
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
