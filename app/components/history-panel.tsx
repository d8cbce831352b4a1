'use client';
/** The current identity's past uploads (IndexedDB): the latest few, the rest behind "Show all". */
import { useState } from 'react';
import type { UploadRecord } from '@/browser/history-store';
import { formatBytes, formatTime } from './format';
import { Button, Card } from './ui';

/** Rows shown before "Show all". */
export const HISTORY_SHOWN = 5;

const OUTCOME: Record<UploadRecord['outcome'], { text: string; cls: string; explain: string }> = {
  verified: {
    text: 'Verified',
    cls: 'text-ok',
    explain: 'The server’s checksum of what it stored matches this browser’s: the file arrived intact.',
  },
  failed: { text: 'Failed', cls: 'text-bad', explain: 'The server did not store this file.' },
  cancelled: {
    text: 'Cancelled',
    cls: 'text-muted',
    explain: 'Stopped before it was sent; nothing was kept.',
  },
};

/**
 * What a record's outcome means. A protocol v4 file (it has the server's SHA-256) was not
 * hashed in this browser: its pieces were authenticated as they arrived instead.
 */
export function outcomeExplain(r: Pick<UploadRecord, 'outcome' | 'sha256'>): string {
  if (r.outcome === 'verified' && r.sha256)
    return 'The server authenticated every piece as it arrived and stored the file whole: it arrived intact.';
  return OUTCOME[r.outcome].explain;
}

export function HistoryPanel({
  records,
  identityName,
  onClear,
}: {
  records: UploadRecord[];
  identityName: string;
  onClear(): void;
}) {
  const [all, setAll] = useState(false);
  if (records.length === 0) return null;
  const shown = all ? records : records.slice(0, HISTORY_SHOWN);
  return (
    <Card labelledBy="history-title">
      <div className="flex items-center justify-between gap-3">
        <h2 id="history-title" className="min-w-0 wrap-break-word text-base font-semibold">
          Sent as {identityName}
        </h2>
        <Button variant="ghost" className="-mr-2 min-h-8 shrink-0 px-2 py-1 text-xs" onClick={onClear}>
          Clear history
        </Button>
      </div>
      <ul className="mt-2 divide-y divide-line" data-testid="history">
        {shown.map((r) => (
          <li key={r.id} className="flex flex-col gap-0.5 py-3 text-sm" data-outcome={r.outcome}>
            <div className="flex items-start justify-between gap-3">
              <span className="min-w-0 wrap-anywhere font-medium">{r.fileName}</span>
              <span className={`shrink-0 font-semibold ${OUTCOME[r.outcome].cls}`} title={outcomeExplain(r)}>
                {OUTCOME[r.outcome].text}
              </span>
            </div>
            <div className="flex flex-wrap justify-between gap-x-3 text-xs text-muted">
              <span>{formatBytes(r.size)}</span>
              <time dateTime={new Date(r.finishedAt).toISOString()}>{formatTime(r.finishedAt)}</time>
            </div>
            <details className="text-xs text-muted">
              <summary className="cursor-pointer select-none">Details</summary>
              <p className="mt-1 text-pretty">{outcomeExplain(r)}</p>
              {r.cksum !== undefined && (
                <p className="mt-0.5">
                  Checksum (POSIX cksum): <span className="font-mono">{r.cksum}</span>
                </p>
              )}
              {r.sha256 && (
                <p className="mt-0.5">
                  SHA-256 (reported by the server): <span className="break-all font-mono">{r.sha256}</span>
                </p>
              )}
              {r.attempts > 1 && <p className="mt-0.5">Sent {r.attempts} times before it arrived intact.</p>}
            </details>
          </li>
        ))}
      </ul>
      {records.length > HISTORY_SHOWN && (
        <Button variant="ghost" className="mt-2 -ml-2 min-h-8 px-2 py-1 text-xs" onClick={() => setAll(!all)}>
          {all ? 'Show fewer' : `Show all ${records.length}`}
        </Button>
      )}
    </Card>
  );
}
