/** Starts the upload worker (bundled by Next from upload.worker.ts) and types its messages. */
import { BrowserError } from './errors';
import type { FromWorker, ToWorker } from './upload-protocol';

export interface UploadWorker {
  post(msg: ToWorker): void;
  terminate(): void;
}

export function startUploadWorker(
  onMessage: (msg: FromWorker) => void,
  onCrash: (error: BrowserError) => void,
): UploadWorker {
  const worker = new Worker(new URL('./upload.worker.ts', import.meta.url), {
    type: 'module',
    name: 'upload',
  });
  worker.addEventListener('message', (ev: MessageEvent<FromWorker>) => onMessage(ev.data));
  worker.addEventListener('error', (ev) => {
    onCrash(
      new BrowserError('BROWSER_ERR_WORKER', `The upload worker failed: ${ev.message || 'unknown error'}.`),
    );
  });
  return {
    post: (msg) => worker.postMessage(msg),
    terminate: () => worker.terminate(),
  };
}
