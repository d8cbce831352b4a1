'use client';
/** First visit (register or import), the me.info offer, and the identity card with "forget". */
import { type FormEvent, useId, useRef, useState } from 'react';
import { identityProtocol, type StoredIdentity } from '@/browser/identity-store';
import { clientIdToHex, MAX_CLIENT_NAME_LENGTH } from '@/lib/protocol';
import { formatTime } from './format';
import type { RegisteredAgain, V4Fingerprints } from './transfer-types';
import { Button, Card } from './ui';

export function Welcome(props: {
  busy: boolean;
  nameError?: string;
  initialName: string;
  onRegister(name: string): string | undefined;
  onImport(file: File): void;
}) {
  const [name, setName] = useState(props.initialName);
  const [localError, setLocalError] = useState<string>();
  const nameId = useId();
  const helpId = useId();
  const errorId = useId();
  const importId = useId();
  // A taken name is said once, in the status above; the field only points at it.
  const invalid = !!(localError ?? props.nameError);
  const describedBy = localError
    ? `${errorId} ${helpId}`
    : props.nameError
      ? `connection-message ${helpId}`
      : helpId;

  const submit = (ev: FormEvent) => {
    ev.preventDefault();
    setLocalError(props.onRegister(name));
  };

  return (
    <Card labelledBy="welcome-title">
      <h2 id="welcome-title" className="text-lg font-semibold">
        Get started
      </h2>
      <p className="mt-1 text-sm text-muted">
        Choose the name this browser will use on the file server. A key pair is made here; the private key
        never leaves this browser.
      </p>
      <form onSubmit={submit} className="mt-4 flex flex-col gap-2" noValidate>
        <label htmlFor={nameId} className="text-sm font-medium">
          Your name
        </label>
        <div className="flex flex-col gap-2 sm:flex-row">
          <input
            id={nameId}
            name="name"
            value={name}
            onChange={(e) => {
              setName(e.target.value);
              setLocalError(undefined);
            }}
            maxLength={MAX_CLIENT_NAME_LENGTH}
            autoComplete="off"
            spellCheck={false}
            required
            aria-invalid={invalid ? true : undefined}
            aria-describedby={describedBy}
            className="min-h-10 flex-1 rounded-lg border border-line bg-page px-3 py-2 text-base aria-invalid:border-bad"
            placeholder="e.g. alice-laptop"
          />
          <Button type="submit" variant="primary" disabled={props.busy}>
            {props.busy ? 'Registering…' : 'Register'}
          </Button>
        </div>
        <p id={helpId} className="text-xs text-muted">
          Letters, digits and punctuation (ASCII), up to {MAX_CLIENT_NAME_LENGTH} characters.
        </p>
        {localError && (
          <p id={errorId} className="text-sm font-medium text-bad">
            {localError}
          </p>
        )}
      </form>

      <div className="my-5 flex items-center gap-3 text-xs uppercase tracking-wide text-muted">
        <span className="h-px flex-1 bg-line" /> or <span className="h-px flex-1 bg-line" />
      </div>

      <div className="flex flex-col gap-2 sm:flex-row sm:items-center sm:justify-between">
        <p className="text-sm text-muted">
          Already registered with the command-line client or another browser? Use its <code>me.info</code>.
        </p>
        <input
          id={importId}
          type="file"
          accept=".info,text/plain"
          className="peer sr-only"
          disabled={props.busy}
          onChange={(e) => {
            const f = e.target.files?.[0];
            e.target.value = '';
            if (f) props.onImport(f);
          }}
        />
        <label
          htmlFor={importId}
          className="inline-flex min-h-10 shrink-0 cursor-pointer items-center justify-center rounded-lg border border-line bg-card px-4 py-2 text-sm font-semibold hover:bg-accent-soft peer-focus-visible:outline-3 peer-focus-visible:outline-offset-2 peer-focus-visible:outline-accent peer-disabled:opacity-50"
        >
          Import me.info…
        </label>
      </div>
    </Card>
  );
}

export function MeInfoOffer(props: {
  name: string;
  text: string;
  downloaded: boolean;
  onDownloaded(): void;
  onDone(): void;
}) {
  const download = () => {
    const url = URL.createObjectURL(new Blob([props.text], { type: 'text/plain' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = 'me.info';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    props.onDownloaded();
  };
  return (
    <section
      aria-labelledby="meinfo-title"
      className={`rounded-2xl border p-5 sm:p-6 ${props.downloaded ? 'border-ok/30 bg-ok-soft' : 'border-warn/40 bg-warn-soft'}`}
      data-testid="meinfo-offer"
      data-downloaded={props.downloaded}
    >
      <h2 id="meinfo-title" className="font-semibold">
        {props.downloaded ? 'Keep me.info somewhere safe' : 'Save your identity file now'}
      </h2>
      <p className="mt-1 text-pretty text-sm text-muted">
        <code>me.info</code> holds your name, client ID and private key: with it you can send as “{props.name}
        ” from the command-line client or another browser. This browser keeps the key locked (it cannot be
        read back), so this is the only chance to save it. Without it, “{props.name}” works in this browser
        only, and forgetting it here loses the name for good.
      </p>
      <div className="mt-4 flex flex-wrap gap-2">
        <Button variant={props.downloaded ? 'secondary' : 'primary'} onClick={download}>
          {props.downloaded ? 'Download again' : 'Download me.info'}
        </Button>
        <Button variant={props.downloaded ? 'primary' : 'ghost'} onClick={props.onDone}>
          {props.downloaded ? 'Done' : 'Don’t save: this browser only'}
        </Button>
      </div>
    </section>
  );
}

/**
 * The server registered this browser's v4 key again under a new client ID (it did not know it
 * any more): said once, above the files, until the person dismisses it.
 */
export function RegisteredAgainNote(props: { again: RegisteredAgain; onDismiss(): void }) {
  const { name, previousClientId, clientId } = props.again;
  return (
    <section
      role="status"
      aria-labelledby="registered-again-title"
      className="rounded-2xl border border-warn/40 bg-warn-soft p-5 sm:p-6"
      data-testid="registered-again"
    >
      <h2 id="registered-again-title" className="font-semibold">
        The server registered this browser again as a new client
      </h2>
      <p className="mt-1 text-pretty text-sm text-muted">
        The server did not know this browser’s key any more (it may have lost its records, or its owner
        removed “{name}”), so it registered the key again as a new client with the client ID{' '}
        <span className="break-all font-mono">{clientId}</span>. Files sent before are under the old client ID{' '}
        <span className="break-all font-mono">{previousClientId}</span>, if the server still has them, and are
        no longer listed here; files from now on go under the new one.
      </p>
      <div className="mt-4">
        <Button variant="secondary" onClick={props.onDismiss}>
          Got it
        </Button>
      </div>
    </section>
  );
}

/** A fingerprint on the card: monospace, breakable anywhere (it is long). */
/**
 * Pinned on first use: trusted from the first answer on, so worth comparing once with what the
 * server itself prints (scripts/start-banner.ts's `Key:` row, server/main.ts's `info`).
 */
export const PIN_CHECK_HINT =
  'Pinned on first use: compare it with the server’s own, the Key: line of its npm start banner or what npm run server -- info prints.';

function Fingerprint(props: { label: string; value: string; testId: string }) {
  return (
    <p className="mt-0.5 text-xs text-muted">
      {props.label}{' '}
      <span className="break-all font-mono" data-testid={props.testId}>
        {props.value}
      </span>
    </p>
  );
}

export function IdentityCard(props: {
  identity: StoredIdentity;
  fingerprints: V4Fingerprints;
  serverHost: string;
  onForget(): void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const { identity, fingerprints } = props;
  const protocol = identityProtocol(identity);
  return (
    <section
      aria-labelledby="identity-title"
      className="flex flex-col gap-2 rounded-2xl border border-line px-5 py-4 sm:flex-row sm:items-center sm:justify-between sm:px-6"
    >
      <div className="min-w-0">
        <h2 id="identity-title" className="text-xs font-semibold uppercase tracking-wide text-muted">
          This browser’s identity
        </h2>
        <p className="mt-0.5 wrap-anywhere font-semibold" data-testid="identity-name">
          {identity.name}
        </p>
        <p className="mt-0.5 text-xs text-muted">
          Client ID <span className="break-all font-mono">{clientIdToHex(identity.clientId)}</span>
          <span aria-hidden="true"> · </span>
          {identity.origin === 'imported' ? 'imported' : 'registered'} {formatTime(identity.createdAt)}
          <span aria-hidden="true"> · </span>
          <span data-testid="identity-protocol">protocol {protocol}</span>
        </p>
        {fingerprints.key && (
          <Fingerprint
            label={protocol === 4 ? 'Key' : 'Protocol 4 key (for files)'}
            value={fingerprints.key}
            testId="identity-v4-key"
          />
        )}
        {fingerprints.server && (
          <>
            <Fingerprint
              label={`Server key pinned for ${props.serverHost}`}
              value={fingerprints.server}
              testId="identity-server-key"
            />
            <p className="mt-0.5 text-pretty text-xs text-muted" data-testid="identity-server-key-check">
              {PIN_CHECK_HINT}
            </p>
          </>
        )}
        {protocol === 4 && (
          <p className="mt-1 text-pretty text-xs text-muted" data-testid="identity-no-file">
            There is no identity file to download: this key cannot leave this browser, and the command-line
            client makes its own.
          </p>
        )}
      </div>
      <Button
        variant="ghost"
        className="-ml-4 self-start whitespace-nowrap sm:ml-0 sm:self-center"
        onClick={() => dialog.current?.showModal()}
      >
        Forget this identity…
      </Button>
      <dialog
        ref={dialog}
        aria-labelledby="forget-title"
        className="m-auto w-[min(92vw,28rem)] rounded-2xl border border-line bg-card p-6 text-ink shadow-xl backdrop:bg-black/50"
      >
        <h2 id="forget-title" className="text-lg font-semibold">
          Forget “{identity.name}”?
        </h2>
        <p className="mt-2 text-sm text-muted">
          {protocol === 4 ? (
            <>
              This browser deletes its key, and you cannot send as this “{identity.name}” again: registering
              makes a new identity. Files already sent stay on the server.
            </>
          ) : (
            <>
              This browser deletes its private key. Unless you saved <code>me.info</code>, you cannot send as
              “{identity.name}” again and will have to register a new name. Files already sent stay on the
              server.
            </>
          )}
        </p>
        <form method="dialog" className="mt-5 flex flex-wrap justify-end gap-2">
          <Button type="submit" variant="secondary" autoFocus>
            Keep it
          </Button>
          <Button
            variant="danger"
            onClick={() => {
              dialog.current?.close();
              props.onForget();
            }}
          >
            Forget identity
          </Button>
        </form>
      </dialog>
    </section>
  );
}
