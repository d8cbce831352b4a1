'use client';
/**
 * The page's state for React: holds one TransferModel (transfer-state.ts, where every
 * transition lives and is tested) wired to the real worker, IndexedDB and clocks, and
 * re-renders on its snapshots. Components only render the state and call its actions.
 */
import { useEffect, useMemo, useSyncExternalStore } from 'react';
import { addUploadRecord, listUploadRecords, removeUploadRecords } from '@/browser/history-store';
import {
  forgetIdentity,
  forgetInvite,
  loadIdentity,
  loadInvite,
  saveIdentity,
  saveInvite,
} from '@/browser/identity-store';
import { takeInviteFromAddress } from '@/browser/invite-link';
import { startUploadWorker } from '@/browser/upload-worker-client';
import { protocolChoice } from '@/browser/v4-rules';
import { forgetPin, forgetV4Identity, readV4Fingerprints } from '@/browser/v4-store';
import { importPrivateKeyPkcs8 } from '@/lib/crypto';
import type { AccessMode } from '@/lib/invite';
import { TransferModel } from './transfer-state';
import type { TransferDeps, TransferState } from './transfer-types';

const browserDeps: TransferDeps = {
  startWorker: startUploadWorker,
  loadIdentity,
  saveIdentity,
  // The v4 key and the uploads kept under it go with the identity.
  forgetIdentity: async () => {
    await forgetIdentity();
    await forgetV4Identity();
  },
  loadInvite,
  saveInvite,
  forgetInvite,
  forgetPin,
  v4Fingerprints: readV4Fingerprints,
  takeInviteFromAddress,
  addUploadRecord,
  listUploadRecords,
  removeUploadRecords,
  importPrivateKey: (pkcs8) => importPrivateKeyPkcs8(crypto.subtle, pkcs8, { extractable: false }),
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimeout: (run, ms) => setTimeout(run, ms),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

export function useTransfer(bridgeUrl: string, access: AccessMode): TransferState {
  const model = useMemo(
    () =>
      new TransferModel(bridgeUrl, browserDeps, access, protocolChoice(globalThis.location?.search ?? '')),
    [bridgeUrl, access],
  );
  useEffect(() => {
    model.start();
    // An invite link opened in this tab while the page is open changes only the fragment.
    const onHash = () => {
      const text = takeInviteFromAddress();
      if (text) model.actions.applyInvite(text);
    };
    window.addEventListener('hashchange', onHash);
    return () => {
      window.removeEventListener('hashchange', onHash);
      model.stop();
    };
  }, [model]);
  return useSyncExternalStore(model.subscribe, model.getSnapshot, model.getSnapshot);
}
