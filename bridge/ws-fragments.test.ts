import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FragmentCounter } from './ws-fragments';

/** A masked client frame (mask 1,2,3,4) with `size` payload bytes, in the shortest length form. */
function frame(opcode: number, fin: boolean, size: number): Uint8Array {
  const extended = size < 126 ? 0 : size < 65_536 ? 2 : 8;
  const out = new Uint8Array(2 + extended + 4 + size).fill(0x61);
  const view = new DataView(out.buffer);
  out[0] = (fin ? 0x80 : 0) | opcode;
  out[1] = 0x80 | (extended === 0 ? size : extended === 2 ? 126 : 127);
  if (extended === 2) view.setUint16(2, size);
  if (extended === 8) view.setBigUint64(2, BigInt(size));
  out.set([1, 2, 3, 4], 2 + extended);
  return out;
}

/** Feeds `bytes` in pieces cut at `cuts` (offsets, any order). */
function feed(counter: FragmentCounter, bytes: Uint8Array, cuts: number[] = []): void {
  const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const c of [...at, bytes.length]) {
    counter.push(bytes.subarray(from, c));
    from = c;
  }
}

const concat = (parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => [...p]));

describe('FragmentCounter', () => {
  test('one unfragmented message of each length form: 1 held while it comes, 0 once whole', () => {
    for (const size of [1, 125, 126, 65_535, 65_536, 70_000]) {
      const c = new FragmentCounter();
      const f = frame(2, true, size);
      c.push(f.subarray(0, f.length - 1));
      expect(c.held).toBe(1);
      c.push(f.subarray(f.length - 1));
      expect(c.held).toBe(0);
    }
  });

  test('fragments count until the FIN fragment is whole; empty ones and control frames do not', () => {
    const c = new FragmentCounter();
    c.push(frame(2, false, 10));
    c.push(frame(0, false, 0));
    c.push(frame(9, true, 4)); // ping
    c.push(frame(0, false, 1));
    expect(c.held).toBe(2);
    const last = frame(0, true, 300);
    c.push(last.subarray(0, 8)); // its header and a little
    expect(c.held).toBe(3);
    c.push(last.subarray(8));
    expect(c.held).toBe(0);
    // 16,000 one-byte fragments (7 bytes each) in one chunk: all counted.
    c.push(concat([frame(2, false, 1), ...Array.from({ length: 15_999 }, () => frame(0, false, 1))]));
    expect(c.held).toBe(16_000);
  });

  test('random messages, fragments and pings, cut anywhere: the unfinished last message is counted', () => {
    const fragment = fc.integer({ min: 0, max: 300 });
    const message = fc.record({
      sizes: fc.array(fragment, { minLength: 1, maxLength: 6 }),
      ping: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(message, { maxLength: 5 }),
        fc.array(fragment, { maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (whole, unfinished, cuts) => {
          const parts: Uint8Array[] = [];
          for (const m of whole) {
            m.sizes.forEach((size, i) => {
              parts.push(frame(i === 0 ? 2 : 0, i === m.sizes.length - 1, size));
              if (m.ping) parts.push(frame(9, true, 3));
            });
          }
          unfinished.forEach((size, i) => {
            parts.push(frame(i === 0 ? 2 : 0, false, size));
          });
          const c = new FragmentCounter();
          feed(c, concat(parts), cuts);
          expect(c.held).toBe(unfinished.filter((s) => s > 0).length);
        },
      ),
      { numRuns: 300 },
    );
  });
});
