/**
 * Summarises V8 .cpuprofile files (from `node --cpu-prof`, e.g. via SFT_BENCH_SERVER_FLAGS):
 * self time per function (file:line), heaviest first, and the idle/GC/program shares.
 * Usage: tsx bench/profile-summary.ts FILE.cpuprofile [TOP]
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from './procs';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** For a minified Next.js chunk (/_next/static/...), the code at the position, to recognise it. */
function snippet(url: string, line: number, column: number | undefined): string {
  const at = url.indexOf('/_next/static/');
  if (at < 0 || column === undefined) return '';
  try {
    const text =
      readFileSync(join(ROOT, '.next', url.slice(at + '/_next/'.length)), 'utf8').split('\n')[line] ?? '';
    return `  «${text.slice(Math.max(0, column - 10), column + 70).replace(/\s+/g, ' ')}»`;
  } catch {
    return '';
  }
}

function where(url: string, line: number): string {
  if (!url) return '';
  let path = url;
  try {
    path = url.startsWith('file:') ? relative(ROOT, fileURLToPath(url)) : url;
  } catch {
    // keep the URL
  }
  return `${path}:${line + 1}`;
}

const [file, topText] = process.argv.slice(2);
if (!file) {
  console.error('Usage: tsx bench/profile-summary.ts FILE.cpuprofile [TOP]');
  process.exit(2);
}
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
for (let i = 0; i < prof.samples.length; i++) {
  const n = byId.get(prof.samples[i]!)!;
  const dt = prof.timeDeltas[i] ?? 0;
  total += dt;
  const c = n.callFrame;
  const key = `${c.functionName || '(anonymous)'}  ${where(c.url, c.lineNumber)}${snippet(c.url, c.lineNumber, c.columnNumber)}`;
  self.set(key, (self.get(key) ?? 0) + dt);
}
const top = Number(topText ?? 25);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled`);
for (const [key, us] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(
    `${((100 * us) / total).toFixed(1).padStart(5)}%  ${(us / 1e6).toFixed(2).padStart(6)} s  ${key}`,
  );
}
