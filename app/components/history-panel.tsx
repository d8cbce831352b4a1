'use client';
/** This browser's past uploads (IndexedDB). */
import type { UploadRecord } from '@/browser/history-store';
import { formatBytes, formatTime } from './format';
import { Card } from './ui';

const OUTCOME: Record<UploadRecord['outcome'], { text: string; cls: string }> = {
  verified: { text: 'Verified', cls: 'text-ok' },
  failed: { text: 'Failed', cls: 'text-bad' },
  cancelled: { text: 'Cancelled', cls: 'text-muted' },
};

export function HistoryPanel({ records }: { records: UploadRecord[] }) {
  if (records.length === 0) return null;
  return (
    <Card labelledBy="history-title">
      <h2 id="history-title" className="text-lg font-semibold">
        Sent from this browser
      </h2>
      <ul className="mt-3 divide-y divide-line" data-testid="history">
        {records.map((r) => (
          <li
            key={r.id}
            className="grid grid-cols-[1fr_auto] gap-x-4 gap-y-0.5 py-3 text-sm"
            data-outcome={r.outcome}
          >
            <span className="truncate font-medium" title={r.fileName}>
              {r.fileName}
            </span>
            <span className={`text-right font-semibold ${OUTCOME[r.outcome].cls}`}>
              {OUTCOME[r.outcome].text}
            </span>
            <span className="truncate text-xs text-muted">
              {formatBytes(r.size)}
              {r.cksum !== undefined && <> · CRC {r.cksum}</>}
              {r.clientName && <> · as {r.clientName}</>}
            </span>
            <time className="text-right text-xs text-muted" dateTime={new Date(r.finishedAt).toISOString()}>
              {formatTime(r.finishedAt)}
            </time>
          </li>
        ))}
      </ul>
    </Card>
  );
}
