'use client';
/** The connection state in words: what is happening and what the person can do next. */
import { useEffect, useState } from 'react';
import type { StoredIdentity } from '@/browser/identity-store';
import type { Conn } from './transfer-state';
import { Button } from './ui';

type Severity = 'info' | 'ok' | 'warn' | 'bad';

interface Described {
  severity: Severity;
  title: string;
  body: string;
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

function useSecondsUntil(at: number | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (at === undefined) return;
    const t = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(t);
  }, [at]);
  return at === undefined ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export function describeConn(
  conn: Conn,
  identity: StoredIdentity | null | undefined,
  bridgeUrl: string,
  triedName: string,
  secondsLeft: number | undefined,
  actions: { retryNow(): void; registerAgain(): void },
): Described | null {
  const name = identity?.name ?? triedName;
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
            body: `Reaching the file server through the bridge at ${bridgeUrl}.`,
          };
    case 'connected':
      return {
        severity: 'ok',
        title: `Connected as ${name}`,
        body: 'Files you add are encrypted in this browser and sent one after another.',
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
            body:
              `The bridge at ${bridgeUrl} did not answer, or it could not reach the file server. ` +
              'Check that both are running (npm start runs everything), then try again.',
            wait,
            action: identity ? retry : undefined,
          };
        case 'refused':
          return {
            severity: 'bad',
            title: 'The bridge refused this page',
            body: `${conn.detail} If you run the server, start the bridge with --origin set to this page's address.`,
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
            body: `${conn.detail} Look at the server’s log, then try again.`,
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
            body: `${conn.detail} Reload the page to start it again.`,
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
  actions: { retryNow(): void; registerAgain(): void };
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
  );
  return (
    <div data-testid="connection-status" data-state={stateName(props.conn)}>
      {/* Announced on every change of state; the countdown is left out so it is not read every second. */}
      <p className="sr-only" role="status" aria-live="polite" aria-atomic="true">
        {d ? `${d.title}. ${d.body}` : ''}
      </p>
      {d && (
        <div
          className={`flex flex-col gap-3 rounded-2xl border p-4 sm:flex-row sm:items-center sm:p-5 ${STYLES[d.severity]}`}
        >
          <span
            aria-hidden="true"
            className={`mt-1.5 hidden h-2.5 w-2.5 shrink-0 self-start rounded-full sm:block ${DOTS[d.severity]}`}
          />
          <div className="min-w-0 flex-1">
            <p className="font-semibold">{d.title}</p>
            <p className="mt-0.5 break-words text-sm text-muted">
              {d.body}
              {d.wait && <span className="whitespace-nowrap"> {d.wait}</span>}
            </p>
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
