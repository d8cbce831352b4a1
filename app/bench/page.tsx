/**
 * /bench: the benchmark's browser upload (`npm run bench`, bench/browser-upload.ts).
 *
 * Off unless the server process runs with SFT_ENABLE_BENCH=1: otherwise this route is a
 * plain 404. Even when on it is harmless: it registers a throwaway client name and uploads
 * synthetic random bytes (made in the page, never a person's file) to the bridge this
 * deployment is configured with, then navigates to a loopback results URL with the figures.
 * It reads no stored identity and writes nothing to IndexedDB.
 */
import { notFound } from 'next/navigation';
import { getRuntimeConfig } from '../runtime-config';
import { BenchRunner } from './bench-runner';

export const dynamic = 'force-dynamic';

/** Largest synthetic upload the page will make (the protocol's limit is 4 GiB). */
const MAX_MIB = 4095;

/** The results URL must be plain http on the loopback interface: figures never leave the machine. */
function loopbackUrl(text: string | undefined): string | undefined {
  if (!text) return undefined;
  try {
    const url = new URL(text);
    const loopback = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    return url.protocol === 'http:' && loopback ? url.href : undefined;
  } catch {
    return undefined;
  }
}

type Params = Record<string, string | string[] | undefined>;

export default async function BenchPage({ searchParams }: { searchParams: Promise<Params> }) {
  if (process.env.SFT_ENABLE_BENCH !== '1') notFound();
  const params = await searchParams;
  const one = (k: string) => {
    const v = params[k];
    return Array.isArray(v) ? v[0] : v;
  };
  const sizeMiB = Number(one('size') ?? '32');
  const results = loopbackUrl(one('results'));
  // Milliseconds between finishing and reporting (bench/profile-browser.ts stops its profiler meanwhile).
  const reportDelayMs = Math.min(10_000, Math.max(0, Number(one('delay') ?? '0') || 0));
  const { bridgeUrl } = await getRuntimeConfig();
  if (!results || !Number.isInteger(sizeMiB) || sizeMiB < 1 || sizeMiB > MAX_MIB) {
    return (
      <main className="p-8">
        <p>
          Usage: /bench?size=MiB&amp;results=http://127.0.0.1:PORT/result (size 1..{MAX_MIB}, results on
          loopback).
        </p>
      </main>
    );
  }
  return (
    <BenchRunner bridgeUrl={bridgeUrl} sizeMiB={sizeMiB} resultsUrl={results} reportDelayMs={reportDelayMs} />
  );
}
