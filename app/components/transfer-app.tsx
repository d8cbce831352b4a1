'use client';
/** The whole page: status, identity, uploads and history, driven by useTransfer. */
import { useEffect } from 'react';
import { HistoryPanel } from './history-panel';
import { IdentityCard, MeInfoOffer, Welcome } from './identity-panels';
import { StatusPanel } from './status-panel';
import { UploadPanel } from './upload-panel';
import { useTransfer } from './use-transfer';

function Logo() {
  return (
    <svg aria-hidden="true" viewBox="0 0 32 32" className="h-8 w-8">
      <rect width="32" height="32" rx="8" className="fill-accent" />
      <path
        d="M11 14v-2.5a5 5 0 0 1 10 0V14m-11.5 0h13a1.5 1.5 0 0 1 1.5 1.5v7a1.5 1.5 0 0 1-1.5 1.5h-13A1.5 1.5 0 0 1 8 22.5v-7A1.5 1.5 0 0 1 9.5 14Z"
        fill="none"
        strokeWidth="2"
        strokeLinejoin="round"
        className="stroke-accent-ink"
      />
    </svg>
  );
}

export function TransferApp({ bridgeUrl, configError }: { bridgeUrl: string; configError?: string }) {
  const t = useTransfer(bridgeUrl);
  const { conn, identity, actions } = t;

  // A file dropped outside the drop zone must not navigate away from a running upload.
  useEffect(() => {
    const stop = (ev: DragEvent) => ev.preventDefault();
    window.addEventListener('dragover', stop);
    window.addEventListener('drop', stop);
    return () => {
      window.removeEventListener('dragover', stop);
      window.removeEventListener('drop', stop);
    };
  }, []);

  const nameError =
    conn.kind === 'problem' && conn.problem === 'name-taken'
      ? `“${t.triedName}” is taken on this server. Try another name.`
      : undefined;

  return (
    <div className="mx-auto flex w-full max-w-3xl flex-col gap-5 px-4 py-6 sm:px-6 sm:py-10">
      <header className="flex items-center gap-3">
        <Logo />
        <div>
          <h1 className="text-xl font-bold tracking-tight">sftransfer</h1>
          <p className="text-sm text-muted">Files are encrypted in this browser before they leave it.</p>
        </div>
      </header>

      {configError && (
        <p role="alert" className="rounded-2xl border border-warn/40 bg-warn-soft p-4 text-sm">
          {configError}
        </p>
      )}

      <main className="flex flex-col gap-5">
        <StatusPanel
          conn={conn}
          identity={identity}
          bridgeUrl={bridgeUrl}
          triedName={t.triedName}
          actions={{ retryNow: actions.retryNow, registerAgain: () => void actions.registerAgain() }}
        />

        {t.meInfo && <MeInfoOffer name={t.meInfo.name} text={t.meInfo.text} onDone={actions.dismissMeInfo} />}

        {identity === null && (
          <Welcome
            key={t.triedName}
            busy={conn.kind === 'connecting'}
            nameError={nameError}
            initialName={t.triedName}
            onRegister={actions.register}
            onImport={(f) => void actions.importMeInfo(f)}
          />
        )}

        {identity && <IdentityCard identity={identity} onForget={() => void actions.forget()} />}

        {identity && (
          <UploadPanel
            items={t.items}
            canSend={conn.kind === 'connected'}
            onFiles={actions.addFiles}
            onCancel={actions.cancel}
            onRetry={actions.retryItem}
            onClearFinished={actions.clearFinished}
          />
        )}

        <HistoryPanel records={t.history} />
      </main>

      <footer className="pt-2 text-center text-xs text-muted">
        Protocol v3 · RSA-1024 key exchange · AES-256-CBC · CRC-checked by the server
      </footer>
    </div>
  );
}
