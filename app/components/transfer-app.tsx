'use client';
/** The whole page: status, uploads first, then history and the identity, driven by useTransfer. */
import { useEffect, useRef, useState } from 'react';
import { totals } from '@/browser/upload-queue';
import { percent } from './format';
import { HistoryPanel } from './history-panel';
import { IdentityCard, MeInfoOffer, RegisteredAgainNote, Welcome } from './identity-panels';
import { InviteLimits, InviteNeeded } from './invite-panels';
import { NEED_INVITE } from './invite-rules';
import { BridgeAddress, StatusPanel, serverHost } from './status-panel';
import type { TransferState } from './transfer-types';
import { UploadPanel } from './upload-panel';
import { waitingHint } from './upload-rules';
import { useTransfer } from './use-transfer';

const TITLE = 'sftransfer';

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

/**
 * The whole window takes dropped files (with an overlay while something is dragged over it)
 * once there is an identity to send them as; a drop never navigates away from the page.
 */
function usePageDrop(enabled: boolean, onFiles: (files: File[]) => void): boolean {
  const [over, setOver] = useState(false);
  const depth = useRef(0);
  const target = useRef({ enabled, onFiles });
  target.current = { enabled, onFiles };
  useEffect(() => {
    const hasFiles = (ev: DragEvent) =>
      !!ev.dataTransfer && Array.from(ev.dataTransfer.types).includes('Files');
    const enter = (ev: DragEvent) => {
      if (!hasFiles(ev) || !target.current.enabled) return;
      depth.current++;
      setOver(true);
    };
    const overPage = (ev: DragEvent) => {
      ev.preventDefault();
      if (ev.dataTransfer) ev.dataTransfer.dropEffect = target.current.enabled ? 'copy' : 'none';
      if (target.current.enabled && hasFiles(ev)) setOver(true);
    };
    const leave = () => {
      depth.current = Math.max(0, depth.current - 1);
      if (depth.current === 0) setOver(false);
    };
    const drop = (ev: DragEvent) => {
      ev.preventDefault();
      depth.current = 0;
      setOver(false);
      const files = Array.from(ev.dataTransfer?.files ?? []);
      if (target.current.enabled && files.length > 0) target.current.onFiles(files);
    };
    window.addEventListener('dragenter', enter);
    window.addEventListener('dragover', overPage);
    window.addEventListener('dragleave', leave);
    window.addEventListener('drop', drop);
    return () => {
      window.removeEventListener('dragenter', enter);
      window.removeEventListener('dragover', overPage);
      window.removeEventListener('dragleave', leave);
      window.removeEventListener('drop', drop);
    };
  }, []);
  return over;
}

/** The tab's title says how far the uploads are, for a person in another tab. */
export function tabTitle(items: Parameters<typeof totals>[0]): string {
  const t = totals(items);
  if (t.busy) return `${Math.floor(percent(t.sent, t.bytes))}% · ${t.remaining} to send · ${TITLE}`;
  if (t.files > 0 && t.failed > 0) return `${t.failed} failed · ${TITLE}`;
  if (t.files > 0 && t.verified > 0) return `✓ ${t.verified} sent · ${TITLE}`;
  return TITLE;
}

/**
 * What the invite panel says when one is needed: the bridge's refusal, or why the link opened
 * cannot be used, or that there is none (invite mode). Undefined when nothing is missing.
 */
export function inviteHeadline(t: TransferState): string | undefined {
  if (t.conn.kind === 'problem' && t.conn.problem === 'invite') return t.conn.detail;
  if (t.access === 'invite' && !t.invite) return t.inviteProblem ?? NEED_INVITE;
  return undefined;
}

export function TransferApp({
  bridgeUrl,
  access,
  configError,
}: {
  bridgeUrl: string;
  access: 'open' | 'invite';
  configError?: string;
}) {
  const t = useTransfer(bridgeUrl, access);
  const needInvite = inviteHeadline(t);
  // In open mode a bad link is only a note: the person can still register without it.
  const inviteNote = !needInvite && t.inviteProblem;
  const { conn, identity, actions } = t;
  const host = serverHost(bridgeUrl);
  const dragging = usePageDrop(!!identity, actions.addFiles);
  const title = tabTitle(t.items);
  useEffect(() => {
    document.title = title;
  }, [title]);

  const nameError =
    conn.kind === 'problem' && conn.problem === 'name-taken'
      ? `“${t.triedName}” is taken on this server. Try another name.`
      : undefined;

  return (
    <div className="mx-auto flex w-full max-w-3xl flex-col gap-4 px-4 py-5 sm:px-6 sm:py-8">
      <header className="flex flex-wrap items-center justify-between gap-x-4 gap-y-2">
        <div className="flex items-center gap-3">
          <Logo />
          <div>
            <h1 className="text-xl font-bold tracking-tight">sftransfer</h1>
            <p className="text-sm text-muted">Encrypted in this browser before it leaves.</p>
          </div>
        </div>
        <BridgeAddress host={host} />
      </header>

      {configError && (
        <p role="alert" className="rounded-2xl border border-warn/40 bg-warn-soft p-4 text-sm">
          {configError}
        </p>
      )}

      <main className="flex flex-col gap-4" data-access={t.access}>
        <StatusPanel
          conn={conn}
          identity={identity}
          bridgeUrl={bridgeUrl}
          triedName={t.triedName}
          inviteInUse={!!t.invite}
          actions={{
            retryNow: actions.retryNow,
            registerAgain: () => void actions.registerAgain(),
            forgetServerKey: () => void actions.forgetServerKey(),
          }}
        />

        {t.meInfo && (
          <MeInfoOffer
            name={t.meInfo.name}
            text={t.meInfo.text}
            downloaded={t.meInfo.downloaded}
            onDownloaded={actions.meInfoDownloaded}
            onDone={actions.dismissMeInfo}
          />
        )}

        {t.registeredAgain && identity && (
          <RegisteredAgainNote again={t.registeredAgain} onDismiss={actions.dismissRegisteredAgain} />
        )}

        {inviteNote && (
          <p role="alert" className="rounded-2xl border border-warn/40 bg-warn-soft p-4 text-sm">
            {inviteNote}
          </p>
        )}

        {needInvite && <InviteNeeded headline={needInvite} onUse={actions.applyInvite} />}

        {t.invite && <InviteLimits invite={t.invite} sent={t.inviteSent} now={Date.now()} />}

        {identity === null && !needInvite && (
          <Welcome
            key={t.triedName}
            busy={conn.kind === 'connecting'}
            nameError={nameError}
            initialName={t.triedName}
            onRegister={actions.register}
            onImport={(f) => void actions.importMeInfo(f)}
          />
        )}

        {identity && (
          <UploadPanel
            items={t.items}
            refused={t.refused}
            canSend={conn.kind === 'connected'}
            waitHint={waitingHint(conn)}
            protocol={t.protocol ?? null}
            serverHost={host}
            now={performance.now()}
            onFiles={actions.addFiles}
            onCancel={actions.cancel}
            onRetry={actions.retryItem}
            onClearFinished={actions.clearFinished}
            onDismissRefused={actions.dismissRefused}
          />
        )}

        {identity && (
          <HistoryPanel
            records={t.history}
            identityName={identity.name}
            onClear={() => void actions.clearHistory()}
          />
        )}

        {identity && (
          <IdentityCard
            identity={identity}
            fingerprints={t.fingerprints}
            serverHost={host}
            onForget={() => void actions.forget()}
          />
        )}
      </main>

      <footer
        className="flex flex-wrap justify-center gap-x-3 gap-y-1 pt-2 text-center text-xs text-muted"
        data-testid="protocol-footer"
        data-protocol={t.protocol ?? undefined}
      >
        {t.protocol === 4 ? (
          <>
            <span className="whitespace-nowrap">Protocol v4</span>
            <span className="whitespace-nowrap">X25519 + Ed25519, server key pinned</span>
            <span className="whitespace-nowrap">AES-256-GCM</span>
            <span className="whitespace-nowrap">SHA-256 reported by the server</span>
          </>
        ) : t.protocol === 3 ? (
          <>
            <span className="whitespace-nowrap">Protocol v3</span>
            <span className="whitespace-nowrap">RSA-1024 key exchange</span>
            <span className="whitespace-nowrap">AES-256-CBC</span>
            <span className="whitespace-nowrap">CRC-checked by the server</span>
          </>
        ) : (
          // Before a connection is made the protocol is not known yet.
          <>
            <span className="whitespace-nowrap">Encrypted in this browser before it is sent</span>
            <span className="whitespace-nowrap">Protocol v4 where the server has it, else v3</span>
          </>
        )}
      </footer>

      {dragging && (
        <div
          aria-hidden="true"
          data-testid="drop-overlay"
          className="pointer-events-none fixed inset-0 z-50 flex items-center justify-center bg-accent/15 p-6 backdrop-blur-sm"
        >
          <div className="rounded-2xl border-2 border-dashed border-accent bg-card px-8 py-10 text-center shadow-xl">
            <p className="text-lg font-semibold">Drop to send</p>
            <p className="mt-1 text-sm text-muted">Encrypted here, then sent to {host}.</p>
          </div>
        </div>
      )}
    </div>
  );
}
