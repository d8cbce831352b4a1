import { afterEach, describe, expect, it, vi } from 'vitest';
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

  it('announces a retry: a CRC mismatch for protocol 3 (the default)', () => {
    const out = sink(false);
    const r = new ProgressReporter(out, { now: () => 0 });
    r.update(p({ attempt: 1 }));
    r.update(p({ attempt: 2 }));
    expect(out.text).toContain('f.bin: CRC mismatch, sending again (attempt 2 of 4)');
  });

  it('announces a protocol 4 retry as a resume after reconnecting, or a new start, never a CRC mismatch', () => {
    const resumed = sink(false);
    new ProgressReporter(resumed, { now: () => 0, retry: 'resume' }).update(p({ attempt: 3 }));
    expect(resumed.text).toBe('f.bin: reconnected; resuming where the server left off (attempt 3 of 4)\n');
    const again = sink(false);
    new ProgressReporter(again, { now: () => 0, retry: 'again', attempts: 4 }).update(p({ attempt: 2 }));
    expect(again.text).toBe('f.bin: reconnected; sending it again (attempt 2 of 4)\n');
    expect(resumed.text + again.text).not.toContain('CRC');
  });

  it("after a resume, the speed and ETA count only this attempt's bytes, not what the server had", () => {
    let now = 0;
    const out = sink(true);
    const r = new ProgressReporter(out, { now: () => now, retry: 'resume' });
    // The server had 80 MiB; the first report of this attempt comes after 1 MiB more.
    r.update(p({ attempt: 2, bytesRead: 81 * MIB }));
    now = 1000;
    r.update(p({ attempt: 2, bytesRead: 91 * MIB }));
    expect(out.text).toContain('91.0 MiB / 100.0 MiB  10.0 MiB/s  ETA 0:01');
  });
});

describe('waiting for the server after the last byte', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const waiting = { waitingFor: 'the server is checking its SHA-256' };

  it('on a terminal, replaces the bar with what it waits for once no answer came for a while', () => {
    vi.useFakeTimers();
    let now = 0;
    const out = sink(true);
    const r = new ProgressReporter(out, { now: () => now, ...waiting });
    r.update(p({ bytesRead: 50 * MIB }));
    now = 1000;
    r.update(p({ bytesRead: 100 * MIB }));
    vi.advanceTimersByTime(1000);
    expect(out.text).not.toContain('checking');
    vi.advanceTimersByTime(1000);
    expect(out.text.endsWith('\r\x1b[2Kf.bin: sent; the server is checking its SHA-256...')).toBe(true);
    r.finish();
    expect(out.text.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('without a terminal, says it once on its own line', () => {
    vi.useFakeTimers();
    const out = sink(false);
    const r = new ProgressReporter(out, { now: () => 0, ...waiting });
    r.update(p({ bytesRead: 100 * MIB }));
    r.update(p({ bytesRead: 100 * MIB }));
    vi.advanceTimersByTime(10_000);
    expect(out.text.match(/checking/g)).toHaveLength(1);
    expect(out.text.endsWith('f.bin: sent; the server is checking its SHA-256...\n')).toBe(true);
    r.finish();
  });

  it('says nothing when the answer comes quickly, or the file is not all sent', () => {
    vi.useFakeTimers();
    const quick = sink(false);
    const r = new ProgressReporter(quick, { now: () => 0, ...waiting });
    r.update(p({ bytesRead: 100 * MIB }));
    vi.advanceTimersByTime(500);
    r.finish();
    vi.advanceTimersByTime(10_000);
    expect(quick.text).toBe('');
    const partial = sink(false);
    new ProgressReporter(partial, { now: () => 0, ...waiting }).update(p({ bytesRead: 99 * MIB }));
    vi.advanceTimersByTime(10_000);
    expect(partial.text).toBe('');
    // Protocol 3 (no waitingFor) has its own "checking CRC" phase.
    const v3 = sink(false);
    new ProgressReporter(v3, { now: () => 0 }).update(p({ bytesRead: 100 * MIB }));
    vi.advanceTimersByTime(10_000);
    expect(v3.text).toBe('');
  });
});
