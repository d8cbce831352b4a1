'use client';
/** The connection state in words: what is happening and what the person can do next. */
import { useEffect, useState } from 'react';
import type { StoredIdentity } from '@/browser/identity-store';
import type { Conn } from './transfer-types';
import { Button } from './ui';

type Severity = 'info' | 'ok' | 'warn' | 'bad';

interface Described {
  severity: Severity;
  title: string;
  /** For the person sending files. */
  body: string;
  /** For whoever runs the server: behind a disclosure. */
  details?: string;
  /** Countdown shown but not announced (it changes every second). */
  wait?: string;
  action?: { label: string; run: () => void };
}

const STYLES: Record<Severity, string> = {
  info: 'border-line bg-card',
  ok: 'border-ok/30 bg-ok-soft',
  warn: 'border-warn/40 bg-warn-soft',
  bad: 'border-bad/40 bg-bad-soft',
};

const DOTS: Record<Severity, string> = {
  info: 'bg-accent motion-safe:animate-pulse',
  ok: 'bg-ok',
  warn: 'bg-warn',
  bad: 'bg-bad',
};

/** Whole seconds from `now` until `at` (never negative). */
export function secondsUntil(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * Seconds until `at`, re-rendered twice a second. The clock is read on every render, the
 * first included: a `now` kept from mount would show how long the page has been open.
 */
function useSecondsUntil(at: number | undefined): number | undefined {
  const [, setTick] = useState(0);
  useEffect(() => {
    if (at === undefined) return;
    const t = setInterval(() => setTick((n) => n + 1), 500);
    return () => clearInterval(t);
  }, [at]);
  return at === undefined ? undefined : secondsUntil(at, Date.now());
}

/** The host (and port) of the bridge URL: the server the files go to, as a person reads it. */
export function serverHost(bridgeUrl: string): string {
  try {
    return new URL(bridgeUrl).host;
  } catch {
    return bridgeUrl;
  }
}

/**
 * The header's address: the bridge's, which every file goes through on its way to the file
 * server behind it (not the file server's own address, which the page never sees).
 */
export function BridgeAddress(props: { host: string }) {
  return (
    <p className="text-xs text-muted" data-testid="server-host">
      Files go through <span className="font-mono text-ink">{props.host}</span>
    </p>
  );
}

export function describeConn(
  conn: Conn,
  identity: StoredIdentity | null | undefined,
  bridgeUrl: string,
  triedName: string,
  secondsLeft: number | undefined,
  actions: { retryNow(): void; registerAgain(): void; forgetServerKey?(): void },
  /** An invite is offered: a 1607 at connect is then most likely the server refusing it. */
  inviteInUse = false,
): Described | null {
  const name = identity?.name ?? triedName;
  const host = serverHost(bridgeUrl);
  switch (conn.kind) {
    case 'starting':
      return { severity: 'info', title: 'Starting…', body: 'Looking for an identity saved in this browser.' };
    case 'idle':
      return null;
    case 'connecting':
      return conn.registering
        ? {
            severity: 'info',
            title: `Registering “${name}”…`,
            body: 'Creating your key pair in this browser and exchanging keys with the server.',
          }
        : {
            severity: 'info',
            title: 'Connecting…',
            body: `Reaching the file server at ${host}.`,
          };
    case 'connected':
      return {
        severity: 'ok',
        title: `Connected as ${name}`,
        body: `Files go to ${host}, encrypted in this browser first.`,
      };
    case 'problem': {
      const retry = { label: 'Try again now', run: actions.retryNow };
      const wait =
        secondsLeft !== undefined && secondsLeft > 0 ? `Trying again in ${secondsLeft} s.` : undefined;
      switch (conn.problem) {
        case 'unreachable':
          return {
            severity: 'bad',
            title: 'Can’t reach the file server',
            // Before registering there is nothing to wait with: the next step is to register again.
            body: identity
              ? `The server at ${host} is not answering. Files you add wait here and go out once it is back.`
              : `The server at ${host} is not answering, so nothing was registered yet. Press Register again in a moment.`,
            details:
              `The bridge at ${bridgeUrl} did not answer, or it could not reach the file server. ` +
              'Check that both are running (npm start runs everything), then try again.',
            wait,
            action: identity ? retry : undefined,
          };
        case 'refused':
          return {
            severity: 'bad',
            title: 'The server refused this page',
            body: `${host} does not accept uploads from this page’s address. Ask whoever runs it.`,
            details: `${conn.detail} Start the bridge with --origin (SFT_BRIDGE_ORIGIN) set to this page's address.`,
            action: identity ? retry : undefined,
          };
        case 'lost':
          return {
            severity: 'warn',
            title: 'Connection lost',
            body: 'The connection to the server dropped. Reconnecting on its own.',
            wait,
            action: retry,
          };
        case 'stopped-answering':
          return {
            severity: 'warn',
            title: 'The server stopped answering',
            body: `${conn.detail} Reconnecting on its own; files you add wait here and go out once it answers again.`,
            details: `The bridge at ${bridgeUrl} or the file server behind it accepted the connection but did not answer in time. If this keeps happening, it may be overloaded or stuck: look at its log.`,
            wait,
            action: retry,
          };
        case 'name-taken':
          return {
            severity: 'bad',
            title: `The name “${name}” is not available`,
            body: 'Someone has registered it on this server already, or the server does not allow it. Choose another name below.',
          };
        case 'rejected':
          return {
            severity: 'bad',
            title: `The server doesn’t know “${name}” any more`,
            body:
              'It may have been reset, or this identity was registered on another server. ' +
              'Register again to get a new identity (files sent earlier stay on the server).',
            action: identity ? { label: `Register again as ${name}`, run: actions.registerAgain } : undefined,
          };
        case 'wrong-key':
          return {
            severity: 'bad',
            title: 'This key doesn’t match the server’s',
            body:
              `The server has a different public key for “${name}”. Import the me.info that belongs to ` +
              'this name, or forget this identity and register a new one.',
          };
        case 'server-error':
          return {
            severity: 'bad',
            title: 'The file server reported an error',
            body: inviteInUse
              ? 'The server did not let this browser in. The invite it sends under may have been revoked, have expired or have no room for another browser: ask whoever invited you for a new link. Or try again in a moment.'
              : 'Something went wrong on the server. Try again in a moment.',
            details: `${conn.detail} Look at the server’s log.`,
            action: identity ? retry : undefined,
          };
        case 'storage':
          return {
            severity: 'bad',
            title: 'This browser won’t store your identity',
            body: `${conn.detail} Use a normal (not private) window, or free some disk space, then reload.`,
          };
        case 'worker':
          return {
            severity: 'bad',
            title: 'The upload engine stopped',
            body: 'Reload the page to start it again.',
            details: conn.detail,
          };
        case 'invite':
          // Said by the invite panel, with the field to paste a new link.
          return null;
        case 'server-key-changed': {
          const k = conn.serverKey;
          const pinned = k?.pinned ?? 'unknown';
          const offered = k?.offered ?? 'unknown';
          const where = k?.address ?? host;
          const said =
            k?.kind === 'pin-link'
              ? `The invite link says the server at ${where} has the key ${offered}, but this browser knows it by the key ${pinned}. `
              : k?.kind === 'link-server'
                ? `The server at ${where} identified itself with the key ${offered}, but the invite link says its key is ${pinned}. `
                : `The server at ${where} identified itself with the key ${offered}, but this browser knows it by the key ${pinned}. `;
          return {
            severity: 'bad',
            title: 'Warning: the server’s key has changed',
            body:
              said +
              'Someone may be intercepting the connection, or the server was reinstalled and got a new key. Nothing was sent. ' +
              'Ask whoever runs the server which key it has now (it prints its fingerprint at start); forget the old key only if they confirm the new one.',
            details: conn.detail,
            action: actions.forgetServerKey
              ? {
                  label: 'Forget the old key…',
                  run: () => {
                    const sure = window.confirm(
                      `Forget the key ${pinned} kept for ${where} and trust ${offered} from now on? Do this only if the server’s owner confirmed the new key.`,
                    );
                    if (sure) actions.forgetServerKey?.();
                  },
                }
              : undefined,
          };
        }
        case 'needs-v4':
          return {
            severity: 'bad',
            title: 'This identity needs protocol version 4',
            body: conn.detail,
            details: `The key of “${name}” is this browser’s protocol 4 key; it has no version 3 key to connect with.`,
            wait,
            action: identity ? retry : undefined,
          };
        case 'bad-file':
          return {
            severity: 'bad',
            title: 'That file is not a usable me.info',
            body: `${conn.detail} Pick the me.info written by the command-line client or offered after registering.`,
          };
      }
    }
  }
}

export function StatusPanel(props: {
  conn: Conn;
  identity: StoredIdentity | null | undefined;
  bridgeUrl: string;
  triedName: string;
  actions: { retryNow(): void; registerAgain(): void; forgetServerKey?(): void };
  inviteInUse?: boolean;
}) {
  const retryAt = props.conn.kind === 'problem' ? props.conn.retryAt : undefined;
  const secondsLeft = useSecondsUntil(retryAt);
  const d = describeConn(
    props.conn,
    props.identity,
    props.bridgeUrl,
    props.triedName,
    secondsLeft,
    props.actions,
    props.inviteInUse,
  );
  return (
    <div data-testid="connection-status" data-state={stateName(props.conn)}>
      {/* Announced on every change of state; the countdown is left out so it is not read every second. */}
      <p className="sr-only" role="status" aria-live="polite" aria-atomic="true">
        {d ? `${d.title}. ${d.body}` : ''}
      </p>
      {d && (
        <div
          className={`flex flex-col gap-3 rounded-2xl border sm:flex-row sm:items-center ${d.severity === 'ok' ? 'px-4 py-3' : 'p-4 sm:p-5'} ${STYLES[d.severity]}`}
        >
          <span
            aria-hidden="true"
            className={`mt-1.5 hidden h-2.5 w-2.5 shrink-0 self-start rounded-full sm:block ${DOTS[d.severity]}`}
          />
          <div className="min-w-0 flex-1">
            <p className="font-semibold">{d.title}</p>
            <p id="connection-message" className="mt-0.5 text-pretty break-words text-sm text-muted">
              {d.body}
              {d.wait && <span className="whitespace-nowrap"> {d.wait}</span>}
            </p>
            {d.details && (
              <details className="mt-2 text-xs text-muted">
                <summary className="cursor-pointer select-none font-medium">
                  Details for the server’s owner
                </summary>
                <p className="mt-1 break-words">{d.details}</p>
              </details>
            )}
          </div>
          {d.action && (
            <Button variant="secondary" onClick={d.action.run} className="shrink-0">
              {d.action.label}
            </Button>
          )}
        </div>
      )}
    </div>
  );
}

export function stateName(conn: Conn): string {
  return conn.kind === 'problem' ? conn.problem : conn.kind;
}
