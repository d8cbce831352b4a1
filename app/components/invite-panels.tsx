'use client';
/** The invite on the page: what it allows and what this browser sent, or why one is needed. */
import { type FormEvent, useId, useState } from 'react';
import { formatByteLimit } from '@/lib/format';
import { formatBytes, percent } from './format';
import { type InviteInUse, type InviteSent, limitsSentence, sentSentence } from './invite-rules';
import { Button, Card, ProgressBar } from './ui';

/** In place of the registration form (or beside the uploads) while no usable invite is known. */
export function InviteNeeded(props: { headline: string; onUse(text: string): void }) {
  const [text, setText] = useState('');
  const fieldId = useId();
  const helpId = useId();
  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    if (text.trim()) props.onUse(text);
  };
  return (
    <Card labelledBy="invite-needed-title" className="border-warn/40">
      <div data-testid="invite-needed">
        <h2 id="invite-needed-title" className="text-lg font-semibold text-pretty">
          {props.headline}
        </h2>
        <p id={helpId} className="mt-1 text-sm text-muted">
          This server takes files only from people its owner invited. Open the invite link you were given, or
          paste it here.
        </p>
        <form onSubmit={submit} className="mt-4 flex flex-col gap-2" noValidate>
          <label htmlFor={fieldId} className="text-sm font-medium">
            Invite link
          </label>
          <div className="flex flex-col gap-2 sm:flex-row">
            <input
              id={fieldId}
              name="invite"
              value={text}
              onChange={(e) => setText(e.target.value)}
              autoComplete="off"
              spellCheck={false}
              aria-describedby={helpId}
              className="min-h-10 min-w-0 flex-1 rounded-lg border border-line bg-page px-3 py-2 font-mono text-sm"
              placeholder="https://…/#invite=sfi1…"
            />
            <Button type="submit" variant="primary" disabled={!text.trim()}>
              Use this link
            </Button>
          </div>
        </form>
      </div>
    </Card>
  );
}

function Meter(props: { label: string; used: number; limit: number; text: string }) {
  const over = props.used >= props.limit;
  return (
    <div className="flex flex-col gap-1">
      <div className="flex justify-between gap-3 text-xs text-muted">
        <span>{props.label}</span>
        <span className="tabular-nums">{props.text}</span>
      </div>
      <ProgressBar
        size="sm"
        value={percent(props.used, props.limit)}
        tone={over ? 'warn' : 'accent'}
        label={`${props.label} under this invite`}
        valueText={props.text}
      />
    </div>
  );
}

/** "Invited from Dana: up to 10 GiB and 100 files, until Dec 8", and this browser's count. */
export function InviteLimits(props: { invite: InviteInUse; sent: InviteSent; now: number }) {
  const { payload } = props.invite;
  const { sent } = props;
  return (
    <section
      aria-labelledby="invite-title"
      className="flex flex-col gap-3 rounded-2xl border border-line px-5 py-4 sm:px-6"
      data-testid="invite-limits"
    >
      <div>
        <h2 id="invite-title" className="text-xs font-semibold uppercase tracking-wide text-muted">
          Your invite
        </h2>
        <p className="mt-0.5 wrap-anywhere font-medium" data-testid="invite-summary">
          Invited {limitsSentence(payload, props.now)}
        </p>
        <p className="mt-0.5 text-xs text-muted" data-testid="invite-sent">
          Sent from this browser under it: {sentSentence(sent)}.
        </p>
      </div>
      {(payload.maxBytes !== null || payload.maxFiles !== null) && (
        <div className="grid gap-3 sm:grid-cols-2">
          {payload.maxBytes !== null && (
            <Meter
              label="Space"
              used={sent.bytes}
              limit={payload.maxBytes}
              text={`${formatBytes(sent.bytes)} of ${formatByteLimit(payload.maxBytes)}`}
            />
          )}
          {payload.maxFiles !== null && (
            <Meter
              label="Files"
              used={sent.files}
              limit={payload.maxFiles}
              text={`${sent.files} of ${payload.maxFiles}`}
            />
          )}
        </div>
      )}
    </section>
  );
}
