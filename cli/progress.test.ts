import { describe, expect, it } from 'vitest';
import type { SendProgress } from '../lib/client';
import { formatBytes } from '../lib/client';
import { formatDuration, ProgressReporter } from './progress';

const MIB = 1024 * 1024;

function sink(isTTY: boolean) {
  const out = { text: '', isTTY, columns: 200, write: (t: string) => (out.text += t) };
  return out;
}

function p(over: Partial<SendProgress>): SendProgress {
  return {
    fileName: 'f.bin',
    phase: 'sending',
    attempt: 1,
    bytesRead: 0,
    bytesSent: 0,
    size: 100 * MIB,
    ...over,
  };
}

describe('progress', () => {
  it('formats sizes and durations', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * MIB)).toBe('50.0 MiB');
    expect(formatBytes(3 * 1024 * MIB)).toBe('3.00 GiB');
    expect(formatDuration(65)).toBe('1:05');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('--:--');
  });

  it('draws a bar with bytes, speed and ETA on a terminal, and clears it at the end', () => {
    let now = 0;
    const out = sink(true);
    const r = new ProgressReporter(out, { now: () => now });
    r.update(p({}));
    now = 1000;
    r.update(p({ bytesRead: 25 * MIB }));
    expect(out.text).toContain('[######..................]  25%');
    expect(out.text).toContain('25.0 MiB / 100.0 MiB  25.0 MiB/s  ETA 0:03');
    r.finish();
    expect(out.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('writes plain lines at most every few seconds when not a terminal', () => {
    let now = 0;
    const out = sink(false);
    const r = new ProgressReporter(out, { now: () => now });
    r.update(p({}));
    for (let t = 100; t <= 7000; t += 100) {
      now = t;
      r.update(p({ bytesRead: t * 1000 }));
    }
    const lines = out.text.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^f\.bin: \d+% {2}.* MiB\/s {2}ETA /);
    expect(out.text).not.toContain('\x1b');
  });

  it('announces a retry', () => {
    const out = sink(false);
    const r = new ProgressReporter(out, { now: () => 0 });
    r.update(p({ attempt: 1 }));
    r.update(p({ attempt: 2 }));
    expect(out.text).toContain('f.bin: CRC mismatch, sending again (attempt 2 of 4)');
  });
});
