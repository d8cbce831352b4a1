/**
 * Emits the WebAssembly module behind the fast cksum path, byte by byte (no assembler, no
 * dependency). scripts/build-cksum-wasm.ts prints it into cksum-wasm-module.ts; a test checks the
 * embedded bytes still equal this emitter's output.
 *
 * The module exports its memory `mem` and one function
 * `update(crcS: i32, ptr: i32, end: i32) -> i32`: it feeds bytes mem[ptr..end) into a
 * register kept in the byte-swapped "S" form of cksum.ts, 16 bytes per step
 * (slicing-by-16 over four little-endian 32-bit loads; WebAssembly is always little-endian),
 * then byte by byte. The sixteen 256-entry tables (S form, table k = byte followed by k zero
 * bytes) live at TABLES_OFFSET and are written by JS at init; data is copied to
 * STAGE_OFFSET in pieces of at most STAGE_SIZE bytes.
 */

export const WASM_SLICES = 16;
export const TABLES_OFFSET = 0;
export const STAGE_OFFSET = 16384;
export const STAGE_SIZE = 256 * 1024;
/** 64 KiB pages: tables (16 KiB) + staging area. */
export const WASM_PAGES = Math.ceil((STAGE_OFFSET + STAGE_SIZE) / 65536);

const I32 = 0x7f;
const op = {
  block: 0x02,
  loop: 0x03,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  i32Load: 0x28,
  i32Load8u: 0x2d,
  i32Const: 0x41,
  i32GeU: 0x4f,
  i32GtU: 0x4b,
  i32Add: 0x6a,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  void: 0x40,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const str = (s: string): number[] => [...uleb(s.length), ...[...s].map((ch) => ch.charCodeAt(0))];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

/** Locals: 0 crc (S form), 1 ptr, 2 end (params); 3 x (scratch word). */
const C = 0;
const P = 1;
const END = 2;
const X = 3;

const get = (i: number) => [op.localGet, i];
const set = (i: number) => [op.localSet, i];
const konst = (n: number) => [op.i32Const, ...sleb(n)];
/** i32.load with 4-byte alignment and a constant offset. */
const load = (offset: number) => [op.i32Load, 2, ...uleb(offset)];

/** Pushes table[k][byte b of local X] (b = 0 least significant). */
function lookup(k: number, b: number): number[] {
  // Byte b times 4 (entry size): shift so the byte lands at bits 2..9, then mask 0x3fc.
  const shift = b === 0 ? [konst(2), op.i32Shl].flat() : [...konst(8 * b - 2), op.i32ShrU];
  return [...get(X), ...shift, ...konst(0x3fc), op.i32And, ...load(TABLES_OFFSET + 1024 * k)];
}

function body(): number[] {
  const code: number[] = [];
  // Slicing-by-16 loop: while (ptr + 16 <= end).
  code.push(op.block, op.void, op.loop, op.void);
  code.push(...get(P), ...konst(16), op.i32Add, ...get(END), op.i32GtU, op.brIf, 1);
  // Words 3, 2, 1 do not depend on the register: their twelve lookups are XORed first, so
  // the register's dependency chain per step is only load, xor, lookup and three XORs.
  for (let w = 3; w >= 0; w--) {
    code.push(...get(P), ...load(4 * w));
    if (w === 0) code.push(...get(C), op.i32Xor);
    code.push(...set(X));
    if (w > 0) {
      for (let b = 0; b < 4; b++) {
        code.push(...lookup(15 - 4 * w - b, b));
        if (w < 3 || b > 0) code.push(op.i32Xor);
      }
    } else {
      // (T15[b0] ^ T14[b1]) ^ (T13[b2] ^ T12[b3]), then into the sum of the others.
      code.push(...lookup(15, 0), ...lookup(14, 1), op.i32Xor);
      code.push(...lookup(13, 2), ...lookup(12, 3), op.i32Xor, op.i32Xor, op.i32Xor);
    }
  }
  code.push(...set(C));
  code.push(...get(P), ...konst(16), op.i32Add, ...set(P), op.br, 0, op.end, op.end);
  // Byte loop: c = (c >>> 8) ^ T0[(c ^ byte) & 0xff].
  code.push(op.block, op.void, op.loop, op.void);
  code.push(...get(P), ...get(END), op.i32GeU, op.brIf, 1);
  code.push(...get(C), ...konst(8), op.i32ShrU);
  code.push(...get(C), ...get(P), op.i32Load8u, 0, 0, op.i32Xor, ...konst(0xff), op.i32And);
  code.push(...konst(2), op.i32Shl, ...load(TABLES_OFFSET), op.i32Xor, ...set(C));
  code.push(...get(P), ...konst(1), op.i32Add, ...set(P), op.br, 0, op.end, op.end);
  code.push(...get(C), op.end);
  const locals = vec([[1, I32]]);
  return [...locals, ...code];
}

/** The complete module binary. */
export function emitCksumWasm(): Uint8Array {
  const fn = body();
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec([[I32], [I32], [I32]]), ...vec([[I32]])]])),
    ...section(3, vec([[0]])),
    ...section(5, vec([[0x00, ...uleb(WASM_PAGES)]])),
    ...section(
      7,
      vec([
        [...str('mem'), 0x02, 0],
        [...str('update'), 0x00, 0],
      ]),
    ),
    ...section(10, vec([[...uleb(fn.length), ...fn]])),
  ];
  return Uint8Array.from(bytes);
}
