'use client';
/**
 * The page's state: identity (IndexedDB), connection (through the upload worker), the
 * upload queue and the history. Components only render this and call its actions.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { BrowserError } from '@/browser/errors';
import { addUploadRecord, listUploadRecords, type UploadRecord } from '@/browser/history-store';
import {
  forgetIdentity,
  loadIdentity,
  type StoredIdentity,
  saveIdentity,
} from '@/browser/identity-store';
import type { ConnectionProblem, FromWorker } from '@/browser/upload-protocol';
import {
  applyDone,
  applyProgress,
  cancelQueued,
  cancelUnfinished,
  markStarted,
  newItems,
  nextQueued,
  requeue,
  type UploadItem,
  clearFinished as withoutFinished,
} from '@/browser/upload-queue';
import { startUploadWorker, type UploadWorker } from '@/browser/upload-worker-client';
import { formatMeInfo, importPrivateKeyPkcs8, parseMeInfo } from '@/lib/crypto';
import { validateClientName } from '@/lib/protocol';

/** What stands between the person and sending files. */
export type Problem = ConnectionProblem | 'storage' | 'worker' | 'bad-file';

export type Conn =
  | { kind: 'starting' }
  | { kind: 'idle' }
  | { kind: 'connecting'; registering: boolean }
  | { kind: 'connected' }
  | { kind: 'problem'; problem: Problem; detail: string; retryAt?: number };

/** Seconds between automatic reconnect attempts while the bridge is unreachable. */
const RETRY_DELAYS_S = [2, 4, 8, 15];
/** If IndexedDB has not answered by then, say so rather than showing "Starting…" forever. */
const STORAGE_TIMEOUT_MS = 15_000;
/** me.info is a few hundred bytes; anything much larger is not one. */
const MAX_ME_INFO_BYTES = 64 * 1024;

function explainStorage(e: unknown): string {
  return e instanceof BrowserError
    ? e.message
    : 'This browser would not let the page use its storage (IndexedDB).';
}

export function useTransfer(bridgeUrl: string) {
  /** undefined while loading; null when this browser has no identity. */
  const [identity, setIdentity] = useState<StoredIdentity | null | undefined>(undefined);
  const [conn, setConn] = useState<Conn>({ kind: 'starting' });
  const [items, setItems] = useState<UploadItem[]>([]);
  const [history, setHistory] = useState<UploadRecord[]>([]);
  /** me.info text right after registration: in memory only until downloaded or dismissed. */
  const [meInfo, setMeInfo] = useState<{ name: string; text: string } | null>(null);
  /** The name last tried for registration (to keep it in the form after "name taken"). */
  const [triedName, setTriedName] = useState('');

  const worker = useRef<UploadWorker | null>(null);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const identityRef = useRef<StoredIdentity | null | undefined>(undefined);
  const pendingImport = useRef<StoredIdentity | null>(null);
  const registering = useRef(false);
  const activeId = useRef<string | null>(null);
  const retryCount = useRef(0);
  const retryTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  const setIdentityBoth = useCallback((id: StoredIdentity | null) => {
    identityRef.current = id;
    setIdentity(id);
  }, []);

  const refreshHistory = useCallback(async () => {
    try {
      setHistory(await listUploadRecords());
    } catch {
      // History is a convenience; the uploads themselves still work.
    }
  }, []);

  const connectStored = useCallback(
    (id: StoredIdentity) => {
      clearTimeout(retryTimer.current);
      registering.current = false;
      setConn({ kind: 'connecting', registering: false });
      worker.current?.post({
        type: 'reconnect',
        url: bridgeUrl,
        name: id.name,
        clientId: id.clientId,
        privateKey: id.privateKey,
      });
    },
    [bridgeUrl],
  );

  /** Reconnects the current (or pending imported) identity, e.g. from a "Try again" button. */
  const retryNow = useCallback(() => {
    const id = pendingImport.current ?? identityRef.current;
    if (id) connectStored(id);
    else setConn({ kind: 'idle' });
  }, [connectStored]);

  const onWorkerMessage = useCallback(
    (msg: FromWorker) => {
      switch (msg.type) {
        case 'connecting':
          setConn({ kind: 'connecting', registering: registering.current });
          return;
        case 'connected': {
          retryCount.current = 0;
          clearTimeout(retryTimer.current);
          registering.current = false;
          if (msg.via === 'register' && msg.privateKey && msg.privateKeyPkcs8) {
            const id: StoredIdentity = {
              name: msg.name,
              clientId: msg.clientId,
              privateKey: msg.privateKey,
              createdAt: Date.now(),
              origin: 'registered',
            };
            setMeInfo({
              name: msg.name,
              text: formatMeInfo({
                name: msg.name,
                clientId: msg.clientId,
                privateKeyPkcs8: msg.privateKeyPkcs8,
              }),
            });
            setIdentityBoth(id);
            saveIdentity(id).catch((e: unknown) =>
              setConn({ kind: 'problem', problem: 'storage', detail: explainStorage(e) }),
            );
          } else if (pendingImport.current) {
            const id = pendingImport.current;
            pendingImport.current = null;
            setIdentityBoth(id);
            saveIdentity(id).catch((e: unknown) =>
              setConn({ kind: 'problem', problem: 'storage', detail: explainStorage(e) }),
            );
          }
          setConn({ kind: 'connected' });
          return;
        }
        case 'problem': {
          registering.current = false;
          const importing = pendingImport.current !== null;
          pendingImport.current = null;
          if (
            (msg.problem === 'unreachable' || msg.problem === 'lost') &&
            identityRef.current &&
            !importing
          ) {
            // Keep trying on our own: bridges restart, laptops change networks.
            const delay =
              msg.problem === 'lost' && retryCount.current === 0
                ? 0.5
                : RETRY_DELAYS_S[Math.min(retryCount.current, RETRY_DELAYS_S.length - 1)]!;
            retryCount.current++;
            const id = identityRef.current;
            clearTimeout(retryTimer.current);
            retryTimer.current = setTimeout(() => connectStored(id), delay * 1000);
            setConn({
              kind: 'problem',
              problem: msg.problem,
              detail: msg.message,
              retryAt: Date.now() + delay * 1000,
            });
            return;
          }
          setConn({ kind: 'problem', problem: msg.problem, detail: msg.message });
          return;
        }
        case 'progress':
          setItems((list) => applyProgress(list, msg, performance.now()));
          return;
        case 'done': {
          activeId.current = null;
          const item = itemsRef.current.find((it) => it.id === msg.id);
          setItems((list) => applyDone(list, msg));
          const who = identityRef.current?.name ?? '';
          void addUploadRecord({
            id: `${Date.now().toString(36)}-${msg.id}`,
            fileName: item?.file.name ?? msg.id,
            size: item?.size ?? 0,
            cksum: msg.cksum,
            finishedAt: Date.now(),
            outcome: msg.outcome,
            clientName: who,
            attempts: msg.attempts,
          })
            .catch(() => {})
            .then(refreshHistory);
          return;
        }
      }
    },
    [connectStored, refreshHistory, setIdentityBoth],
  );

  // Start the worker and load the identity once.
  const onMessageRef = useRef(onWorkerMessage);
  onMessageRef.current = onWorkerMessage;
  useEffect(() => {
    const w = startUploadWorker(
      (m) => onMessageRef.current(m),
      (e) => setConn({ kind: 'problem', problem: 'worker', detail: e.message }),
    );
    worker.current = w;
    let cancelled = false;
    void refreshHistory();
    const slow = setTimeout(() => {
      if (identityRef.current === undefined && !cancelled) {
        setConn({
          kind: 'problem',
          problem: 'storage',
          detail:
            'This browser’s storage (IndexedDB) did not answer. Another tab of this page may be blocking it: close it, then reload.',
        });
      }
    }, STORAGE_TIMEOUT_MS);
    loadIdentity()
      .then((id) => {
        clearTimeout(slow);
        if (cancelled) return;
        setIdentityBoth(id ?? null);
        if (id) connectStored(id);
        else setConn({ kind: 'idle' });
      })
      .catch((e: unknown) => {
        clearTimeout(slow);
        if (cancelled) return;
        setIdentityBoth(null);
        setConn({ kind: 'problem', problem: 'storage', detail: explainStorage(e) });
      });
    return () => {
      cancelled = true;
      clearTimeout(slow);
      clearTimeout(retryTimer.current);
      w.terminate();
      worker.current = null;
    };
  }, [connectStored, refreshHistory, setIdentityBoth]);

  // Send the next queued file whenever the connection is ready and nothing is in flight.
  useEffect(() => {
    if (conn.kind !== 'connected' || activeId.current) return;
    const next = nextQueued(items);
    if (!next) return;
    activeId.current = next.id;
    setItems((list) => markStarted(list, next.id, performance.now()));
    worker.current?.post({ type: 'upload', id: next.id, file: next.file });
  }, [conn, items]);

  const register = useCallback(
    (name: string): string | undefined => {
      const trimmed = name.trim();
      try {
        validateClientName(trimmed);
      } catch (e) {
        return e instanceof Error ? e.message : String(e);
      }
      clearTimeout(retryTimer.current);
      setTriedName(trimmed);
      registering.current = true;
      pendingImport.current = null;
      setConn({ kind: 'connecting', registering: true });
      worker.current?.post({ type: 'register', url: bridgeUrl, name: trimmed });
      return undefined;
    },
    [bridgeUrl],
  );

  /** Reads a me.info, imports its key as non-extractable and reconnects with it (stored on success). */
  const importMeInfo = useCallback(
    async (file: File) => {
      try {
        if (file.size > MAX_ME_INFO_BYTES) throw new Error(`${file.name} is too large to be a me.info file.`);
        const parsed = parseMeInfo(await file.text());
        const privateKey = await importPrivateKeyPkcs8(crypto.subtle, parsed.privateKeyPkcs8, {
          extractable: false,
        });
        pendingImport.current = {
          name: parsed.name,
          clientId: parsed.clientId,
          privateKey,
          createdAt: Date.now(),
          origin: 'imported',
        };
        setTriedName(parsed.name);
        connectStored(pendingImport.current);
      } catch (e) {
        setConn({
          kind: 'problem',
          problem: 'bad-file',
          detail: e instanceof Error ? e.message : String(e),
        });
      }
    },
    [connectStored],
  );

  const forget = useCallback(async () => {
    clearTimeout(retryTimer.current);
    worker.current?.post({ type: 'disconnect' });
    activeId.current = null;
    setItems(cancelUnfinished);
    setMeInfo(null);
    try {
      await forgetIdentity();
    } catch (e) {
      setConn({ kind: 'problem', problem: 'storage', detail: explainStorage(e) });
      return;
    }
    setIdentityBoth(null);
    setConn({ kind: 'idle' });
  }, [setIdentityBoth]);

  /** After 1606: drop the stale identity and register the same name again. */
  const registerAgain = useCallback(async () => {
    const name = identityRef.current?.name ?? triedName;
    await forget();
    if (name) register(name);
  }, [forget, register, triedName]);

  const addFiles = useCallback((files: Iterable<File>) => {
    const added = newItems(files);
    if (added.length > 0) setItems((list) => [...list, ...added]);
  }, []);

  const cancel = useCallback((id: string) => {
    if (activeId.current === id) worker.current?.post({ type: 'cancel', id });
    else setItems((list) => cancelQueued(list, id));
  }, []);

  const retryItem = useCallback((id: string) => setItems((list) => requeue(list, id)), []);

  const clearFinished = useCallback(() => setItems(withoutFinished), []);

  const dismissMeInfo = useCallback(() => setMeInfo(null), []);

  return {
    bridgeUrl,
    identity,
    conn,
    items,
    history,
    meInfo,
    triedName,
    actions: {
      register,
      importMeInfo,
      forget,
      registerAgain,
      retryNow,
      addFiles,
      cancel,
      retryItem,
      clearFinished,
      dismissMeInfo,
    },
  };
}

export type TransferState = ReturnType<typeof useTransfer>;
