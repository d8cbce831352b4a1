'use client';
/**
 * Runs one benchmark upload through the app's real upload path: the same worker the UI
 * uses (browser/upload-worker-client.ts -> upload.worker.ts), registering a fresh
 * name like the UI's "register" action. The file is synthetic: N MiB assembled from a few
 * random 1 MiB Blob parts (Blob parts are referenced, not copied, so the page never holds
 * the file). The result goes back by navigating to the results URL (navigation is not
 * limited by the page's connect-src CSP, which allows only this origin and the bridge).
 */
import { useEffect, useRef, useState } from 'react';
import type { FromWorker } from '@/browser/upload-protocol';
import { startUploadWorker } from '@/browser/upload-worker-client';
import { protocolChoice } from '@/browser/v4-rules';

const MiB = 1024 * 1024;
/** Distinct random 1 MiB parts the file cycles through. */
const DISTINCT_PARTS = 8;
/** How often the page samples its JS heap. */
const HEAP_SAMPLE_MS = 50;

interface MemoryInfo {
  usedJSHeapSize: number;
}

function usedHeap(): number | null {
  const mem = (performance as Performance & { memory?: MemoryInfo }).memory;
  return mem ? mem.usedJSHeapSize : null;
}

function syntheticFile(sizeMiB: number): File {
  const parts: Blob[] = [];
  for (let i = 0; i < DISTINCT_PARTS; i++) {
    const bytes = new Uint8Array(MiB);
    // getRandomValues fills at most 64 KiB per call.
    for (let off = 0; off < MiB; off += 65536) crypto.getRandomValues(bytes.subarray(off, off + 65536));
    parts.push(new Blob([bytes]));
  }
  const all: Blob[] = [];
  for (let i = 0; i < sizeMiB; i++) all.push(parts[i % DISTINCT_PARTS]!);
  return new File(all, `bench-${sizeMiB}MiB.bin`, { type: 'application/octet-stream' });
}

export interface BenchResult {
  sizeMiB: number;
  verified: boolean;
  /** Plaintext MiB per second from posting the upload to the worker until it reported done. */
  MiBps: number | null;
  seconds: number | null;
  /** performance.memory.usedJSHeapSize of the page (main thread), sampled every 50 ms. */
  heapStartBytes: number | null;
  heapPeakBytes: number | null;
  attempts: number;
  error?: string;
}

export function BenchRunner({
  bridgeUrl,
  sizeMiB,
  resultsUrl,
  reportDelayMs = 0,
}: {
  bridgeUrl: string;
  sizeMiB: number;
  resultsUrl: string;
  reportDelayMs?: number;
}) {
  const [status, setStatus] = useState('starting');
  const started = useRef(false);

  useEffect(() => {
    if (started.current) return; // React strict mode runs effects twice in development
    started.current = true;
    const heapStart = usedHeap();
    let heapPeak = heapStart;
    const sampler = setInterval(() => {
      const h = usedHeap();
      if (h !== null && (heapPeak === null || h > heapPeak)) heapPeak = h;
    }, HEAP_SAMPLE_MS);
    let t0 = 0;
    let reported = false;
    const report = (partial: Partial<BenchResult>) => {
      if (reported) return;
      reported = true;
      clearInterval(sampler);
      const result: BenchResult = {
        sizeMiB,
        verified: false,
        MiBps: null,
        seconds: null,
        heapStartBytes: heapStart,
        heapPeakBytes: heapPeak,
        attempts: 0,
        ...partial,
      };
      setStatus(JSON.stringify(result));
      const url = new URL(resultsUrl);
      url.searchParams.set('data', JSON.stringify(result));
      setTimeout(() => {
        location.href = url.href;
      }, reportDelayMs);
    };
    const file = syntheticFile(sizeMiB);
    const worker = startUploadWorker(
      (msg: FromWorker) => {
        switch (msg.type) {
          case 'connected':
            setStatus(`registered as ${msg.name}; uploading ${sizeMiB} MiB`);
            t0 = performance.now();
            worker.post({ type: 'upload', id: 'bench', file });
            return;
          case 'problem':
            report({ error: `${msg.problem}: ${msg.message}` });
            return;
          case 'progress':
            return;
          case 'done': {
            const seconds = (performance.now() - t0) / 1000;
            const verified = msg.outcome === 'verified';
            report({
              verified,
              seconds,
              MiBps: verified ? sizeMiB / seconds : null,
              attempts: msg.attempts,
              error: verified ? undefined : (msg.message ?? msg.outcome),
            });
            worker.post({ type: 'disconnect' });
            return;
          }
        }
      },
      (e) => report({ error: e.message }),
    );
    const name = `bench-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    setStatus(`registering ${name}`);
    worker.post({ type: 'register', url: bridgeUrl, name, protocol: protocolChoice(window.location.search) });
  }, [bridgeUrl, sizeMiB, resultsUrl, reportDelayMs]);

  return (
    <main className="p-8 font-mono text-sm">
      <h1>Upload benchmark</h1>
      <p id="bench-status">{status}</p>
    </main>
  );
}
