import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cksum, cksum } from './cksum';
import { cksumBackend, instantiateCksumWasm, loadCksumWasm } from './cksum-wasm';
import { emitCksumWasm } from './cksum-wasm-emit';
import { CKSUM_WASM_BYTES } from './cksum-wasm-module';

const ascii = (s: string) => new TextEncoder().encode(s);

/** Bit-at-a-time CRC-32 (poly 0x04C11DB7, init 0, MSB first), uncomplemented. */
function referenceCrc(bytes: number[]): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 24;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80000000 ? (crc << 1) ^ 0x04c11db7 : crc << 1;
  }
  return crc >>> 0;
}

/** What /usr/bin/cksum prints for `bytes` (first field). */
function systemCksum(bytes: Uint8Array): number {
  const out = execFileSync('/usr/bin/cksum', { input: bytes, maxBuffer: 1 << 20 }).toString();
  return Number(out.split(' ')[0]);
}

describe('cksum WebAssembly path', () => {
  it('the embedded module is what cksum-wasm-emit.ts emits (run scripts/build-cksum-wasm.ts after editing it)', () => {
    expect([...CKSUM_WASM_BYTES]).toEqual([...emitCksumWasm()]);
  });

  it('instantiates in Node and passed the self-check, so the "wasm" runs below exercise it', () => {
    expect(loadCksumWasm()).not.toBeNull();
  });

  it('falls back (null) when WebAssembly is missing or refuses to compile', () => {
    expect(instantiateCksumWasm(undefined)).toBeNull();
    const refusing = {
      Module: class {
        constructor() {
          throw new Error('Refused to compile WebAssembly: CSP lacks wasm-unsafe-eval');
        }
      },
      Instance: class {},
    } as unknown as typeof WebAssembly;
    expect(instantiateCksumWasm(refusing)).toBeNull();
  });
});

// Every test below runs once on the JS loop and once on the WebAssembly path.
describe.each(['js', 'wasm'] as const)('%s path', (backend) => {
  beforeAll(() => {
    cksumBackend.forceJs = backend === 'js';
  });
  afterAll(() => {
    cksumBackend.forceJs = false;
  });

  describe('cksum known answers (docs/PROTOCOL.md)', () => {
    const pattern = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
    it.each([
      ['empty', new Uint8Array(0), 4294967295],
      ['123456789', ascii('123456789'), 930766865],
      ['a', ascii('a'), 1220704766],
      ['1,000,000 zero bytes', new Uint8Array(1_000_000), 1345294785],
      ['bytes 0..255 x 4096', pattern, 2572415250],
    ])('%s', (_name, bytes, expected) => {
      expect(cksum(bytes)).toBe(expected);
      expect(new Cksum().update(bytes).digest()).toBe(expected);
    });
  });

  describe('cksum against /usr/bin/cksum', () => {
    const sizes = [1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 4095, 65537, 100_003, 1_048_575, 3 * 1024 * 1024 + 13];
    it.each(sizes)('random %i bytes', (size) => {
      const bytes = new Uint8Array(randomBytes(size));
      expect(cksum(bytes)).toBe(systemCksum(bytes));
    });

    it('unaligned views (every byteOffset 0..7) of the same buffer', () => {
      const base = new Uint8Array(randomBytes(10_000));
      for (let off = 0; off < 8; off++) {
        const view = base.subarray(off, off + 5003);
        expect(cksum(view)).toBe(systemCksum(view.slice()));
      }
    });
  });

  describe('Cksum incremental', () => {
    it('updates split at random points equal one-shot', () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 0, maxLength: 5000 }),
          fc.array(fc.nat(5000), { maxLength: 8 }),
          (bytes, cuts) => {
            const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
            const c = new Cksum();
            let prev = 0;
            for (const p of [...points, bytes.length]) {
              c.update(bytes.subarray(prev, p));
              prev = p;
            }
            expect(c.length).toBe(bytes.length);
            expect(c.digest()).toBe(cksum(bytes));
          },
        ),
        { numRuns: 200 },
      );
    });

    it('split at every offset of a 200-byte input', () => {
      const bytes = new Uint8Array(randomBytes(200));
      const expected = cksum(bytes);
      for (let i = 0; i <= bytes.length; i++) {
        expect(new Cksum().update(bytes.subarray(0, i)).update(bytes.subarray(i)).digest()).toBe(expected);
      }
    });

    it('digest() does not finalize: it can be called again, also after more updates', () => {
      const c = new Cksum().update(ascii('1234'));
      expect(c.digest()).toBe(cksum(ascii('1234')));
      expect(c.digest()).toBe(cksum(ascii('1234')));
      c.update(ascii('56789'));
      expect(c.digest()).toBe(930766865);
    });

    it('counts lengths beyond 2^32 without wrapping (length bytes fed from a Number)', () => {
      const c = new Cksum();
      const zeros = new Uint8Array(1 << 24);
      for (let i = 0; i < 256; i++) c.update(zeros); // 2^32 bytes of zeros
      c.update(new Uint8Array(1));
      expect(c.length).toBe(2 ** 32 + 1);
      // Zero data leaves the register at 0, so the result is the complemented CRC of the
      // length bytes alone, least significant first: 01 00 00 00 01.
      expect(c.digest()).toBe(~referenceCrc([0x01, 0x00, 0x00, 0x00, 0x01]) >>> 0);
    }, 120_000);

    it('the bitwise reference agrees with a known answer (so the test above is meaningful)', () => {
      // "a" is one byte, then its length 1: CRC over [0x61, 0x01].
      expect(~referenceCrc([0x61, 0x01]) >>> 0).toBe(1220704766);
    });
  });
});
