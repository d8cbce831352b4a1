/**
 * The WebAssembly fast path of cksum.ts (module built by cksum-wasm-emit.ts, embedded in
 * cksum-wasm-module.ts, compiled synchronously: under 400 bytes, well below Chromium's 4 KB main-thread limit).
 * If WebAssembly is missing or refuses to compile (a browser CSP without
 * 'wasm-unsafe-eval'), loadCksumWasm() returns null and cksum.ts uses its JS loop.
 * Not re-exported from lib/crypto: internal to cksum.ts and its tests.
 */
import { STAGE_OFFSET, STAGE_SIZE, TABLES_OFFSET, WASM_SLICES } from './cksum-wasm-emit';
import { CKSUM_WASM_BYTES } from './cksum-wasm-module';

const POLY = 0x04c11db7;

/** Feeds `bytes[start..end)` into an S-form register and returns the new register. */
export type CrcUpdate = (crcS: number, bytes: Uint8Array, start: number, end: number) => number;

interface Exports {
  mem: WebAssembly.Memory;
  update: (crcS: number, ptr: number, end: number) => number;
}

/** Compiles the module and fills its tables; null if WebAssembly is unavailable or refuses. */
export function instantiateCksumWasm(wasm: typeof WebAssembly | undefined): CrcUpdate | null {
  try {
    if (wasm === undefined) return null;
    const instance = new wasm.Instance(new wasm.Module(CKSUM_WASM_BYTES), {});
    const { mem, update } = instance.exports as unknown as Exports;
    const memory = new Uint8Array(mem.buffer);
    const view = new DataView(mem.buffer);
    // Tables in S form (entries byte-swapped), written little-endian whatever the host is.
    const t = new Int32Array(256 * WASM_SLICES);
    for (let i = 0; i < 256; i++) {
      let c = i << 24;
      for (let bit = 0; bit < 8; bit++) c = c & 0x80000000 ? (c << 1) ^ POLY : c << 1;
      t[i] = ((c & 0xff) << 24) | ((c & 0xff00) << 8) | ((c >>> 8) & 0xff00) | (c >>> 24);
    }
    for (let k = 1; k < WASM_SLICES; k++) {
      for (let i = 0; i < 256; i++) {
        const prev = t[(k - 1) * 256 + i]!;
        t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
      }
    }
    for (let i = 0; i < t.length; i++) view.setInt32(TABLES_OFFSET + 4 * i, t[i]!, true);
    const crcUpdate: CrcUpdate = (crcS, bytes, start, end) => {
      let c = crcS;
      for (let i = start; i < end; i += STAGE_SIZE) {
        const n = Math.min(STAGE_SIZE, end - i);
        memory.set(bytes.subarray(i, i + n), STAGE_OFFSET);
        c = update(c, STAGE_OFFSET, STAGE_OFFSET + n);
      }
      return c;
    };
    // Self-check against a byte-at-a-time loop: a misbehaving engine means the JS path.
    const probe = new Uint8Array(1000).map((_, i) => (i * 131 + 7) & 0xff);
    let expected = 0;
    for (const byte of probe) expected = (expected >>> 8) ^ t[(expected ^ byte) & 0xff]!;
    return crcUpdate(0, probe, 0, probe.length) === expected ? crcUpdate : null;
  } catch {
    return null;
  }
}

let loaded: CrcUpdate | null | undefined;

/**
 * The WebAssembly path, instantiated on first use (so merely importing lib/crypto, e.g. on a
 * page that never computes a cksum, compiles nothing and trips no CSP report); null = use JS.
 */
export function loadCksumWasm(): CrcUpdate | null {
  if (loaded === undefined) {
    // `typeof` so a runtime without WebAssembly gets undefined rather than a ReferenceError.
    loaded = instantiateCksumWasm(typeof WebAssembly === 'undefined' ? undefined : WebAssembly);
  }
  return loaded;
}

/** Tests set `forceJs` to cover the JS loop. */
export const cksumBackend = { forceJs: false };
