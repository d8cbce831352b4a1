/**
 * Hostile byte streams for the real server, directly over TCP or through the bridge:
 * random bytes, headers with any version, code and declared size (up to 4 GiB), mutated
 * valid requests, and mutated upload sequences encrypted with a real session key, each
 * delivered whole, one byte per write, or in random chunks. Shared by test/hostile and
 * `npm run fuzz` (scripts/fuzz.ts).
 *
 * Each case runs on its own connection and is judged on: every byte the server sent back
 * is a valid response frame; the connection is closed by the server within a bounded time
 * once we stop sending (no hang); and, for the bridge, the WebSocket closes with a code the
 * bridge documents (4007, "the server sent an invalid response", is a failure).
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import {
  decodeResponse,
  encodeRequest,
  encodeRequestHeader,
  PROTOCOL_VERSION,
  REQUEST_HEADER_SIZE,
  type Request,
  RequestCode,
  type Response,
  ResponseCode,
  ResponseFrameDecoder,
} from '../../lib/protocol';
import {
  applySequenceOp,
  arbChunkSizes,
  arbFileName,
  arbMutations,
  arbRequest,
  chunkBy,
  concatBytes,
  type Mutation,
  mutate,
  type SequenceOp,
} from './arbitraries';
import { type Client, fileFrames, NO_PEER_LIMITS, ORIGIN, unwrapKey } from './hostile';

/**
 * The fuzzed server's options (the suite's bounded run and `npm run fuzz`): frames, not rates,
 * are fuzzed, so the per-source caps and rates are opened up (each case reconnects with the
 * fuzzer's key; up to 48 connections at once from one address, none logged in).
 */
export const FUZZ_SERVER_ARGS: readonly string[] = [
  ...['--max-connections', '256', '--max-per-source', '256', '--max-startups-per-source', '128'],
  ...NO_PEER_LIMITS,
];

/** Whose client ID a hostile frame carries. */
type IdPick = 'zero' | 'self' | 'other' | 'random';

export type FrameRecipe =
  | { kind: 'raw'; bytes: Uint8Array }
  | {
      kind: 'header';
      id: IdPick;
      version: number;
      code: number;
      /** 'exact' = the payload's length; a number = whatever the header declares. */
      size: 'exact' | number;
      payload: Uint8Array;
    }
  | { kind: 'request'; id: IdPick; req: Request; mutations: Mutation[] | null }
  | { kind: 'upload'; fileName: string; size: number; packet: number; ops: UploadOp[] };

type UploadOp =
  | { kind: 'mutate'; index: number; mutations: Mutation[] }
  | { kind: 'totals'; index: number; total: number }
  | SequenceOp;

export type Delivery = { kind: 'whole' } | { kind: 'bytes' } | { kind: 'chunks'; sizes: number[] };

export interface FuzzCase {
  /** 'keyed': the connection first reconnects (1027) as the fuzz client and holds an AES key. */
  prelude: 'none' | 'keyed';
  frames: FrameRecipe[];
  delivery: Delivery;
}

export interface FuzzContext {
  /** The fuzz client (registered, public key on file). */
  self: Client;
  /** IDs of clients whose files must survive (the baseline). */
  others: Uint8Array[];
  /** The server's --max-payload. */
  maxPayload: number;
}

const HOSTILE_FILE_NAMES = [
  'report.pdf',
  'notes.txt',
  '../report.pdf',
  '/etc/passwd',
  '..\\..\\x',
  'CON',
  'com1.txt',
  'a/../../b',
  '',
  '.',
];

const arbId: fc.Arbitrary<IdPick> = fc.constantFrom('zero', 'self', 'other', 'random');

function arbDeclaredSize(maxPayload: number): fc.Arbitrary<'exact' | number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('exact' as const) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 700 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        maxPayload,
        maxPayload + 1,
        maxPayload - 1,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        0xffff_ffff,
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
  );
}

const arbUploadOp: fc.Arbitrary<UploadOp> = fc.oneof(
  fc.record({ kind: fc.constant('mutate' as const), index: fc.nat(), mutations: arbMutations }),
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({
    kind: fc.constant('totals' as const),
    index: fc.nat(),
    total: fc.integer({ min: 0, max: 0xffff }),
  }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
);

/** An upload of the fuzz client, possibly reordered, cut or mutated. */
export const arbUploadRecipe: fc.Arbitrary<FrameRecipe> = fc.record({
  kind: fc.constant('upload' as const),
  fileName: fc.oneof(arbFileName, fc.constantFrom(...HOSTILE_FILE_NAMES.filter((n) => n !== ''))),
  size: fc.integer({ min: 0, max: 3000 }),
  packet: fc.integer({ min: 16, max: 1024 }),
  ops: fc.array(arbUploadOp, { maxLength: 3 }),
});

export function arbRecipe(maxPayload: number): fc.Arbitrary<FrameRecipe> {
  return fc.oneof(
    fc.record({ kind: fc.constant('raw' as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
    fc.record({
      kind: fc.constant('header' as const),
      id: arbId,
      version: fc.oneof(
        { weight: 4, arbitrary: fc.constant(PROTOCOL_VERSION) },
        fc.integer({ min: 0, max: 255 }),
      ),
      code: fc.oneof(
        { weight: 4, arbitrary: fc.integer({ min: 1025, max: 1031 }) },
        fc.integer({ min: 0, max: 0xffff }),
      ),
      size: arbDeclaredSize(maxPayload),
      payload: fc.uint8Array({ maxLength: 600 }),
    }),
    fc.record({
      kind: fc.constant('request' as const),
      id: arbId,
      req: arbRequest(300),
      mutations: fc.option(arbMutations, { nil: null }),
    }),
    arbUploadRecipe,
  );
}

export function arbDelivery(): fc.Arbitrary<Delivery> {
  return fc.oneof(
    fc.constant({ kind: 'whole' as const }),
    fc.constant({ kind: 'bytes' as const }),
    fc.record({ kind: fc.constant('chunks' as const), sizes: arbChunkSizes }),
  );
}

export function arbCase(maxPayload: number): fc.Arbitrary<FuzzCase> {
  return fc.record({
    prelude: fc.constantFrom('none' as const, 'keyed' as const),
    frames: fc.array(arbRecipe(maxPayload), { minLength: 1, maxLength: 4 }),
    delivery: arbDelivery(),
  });
}

function pickId(id: IdPick, ctx: FuzzContext, seed: number): Uint8Array {
  switch (id) {
    case 'zero':
      return new Uint8Array(16);
    case 'self':
      return ctx.self.clientId;
    case 'other':
      return ctx.others[seed % ctx.others.length] ?? new Uint8Array(16);
    case 'random':
      return Uint8Array.from({ length: 16 }, (_, i) => (seed * 31 + i * 7) & 0xff);
  }
}

const CRC_CODES: ReadonlySet<number> = new Set([
  RequestCode.CrcOk,
  RequestCode.CrcRetry,
  RequestCode.CrcAbort,
]);
/** Names the baseline clients stored: spoofed CRC answers aim at them. */
const BASELINE_FILE_NAMES = ['report.pdf', 'notes.txt', 'data.bin'];

/** The bytes of one recipe; `aesKey` is the connection's key when keyed (else a dummy one). */
export function materialize(r: FrameRecipe, ctx: FuzzContext, aesKey: Buffer): Uint8Array[] {
  switch (r.kind) {
    case 'raw':
      return [r.bytes];
    case 'header': {
      const head = new Uint8Array(REQUEST_HEADER_SIZE);
      encodeRequestHeader(
        {
          clientId: pickId(r.id, ctx, r.payload.length),
          version: r.version,
          code: r.code,
          payloadSize: r.size === 'exact' ? r.payload.length : r.size,
        },
        head,
      );
      return [concatBytes([head, r.payload])];
    }
    case 'request': {
      let req = { ...r.req, clientId: pickId(r.id, ctx, r.req.code) } as Request;
      // A CRC answer under another client's ID names one of that client's files.
      if (r.id === 'other' && 'fileName' in req && CRC_CODES.has(req.code)) {
        req = { ...req, fileName: BASELINE_FILE_NAMES[req.fileName.length % BASELINE_FILE_NAMES.length]! };
      }
      const frame = encodeRequest(req);
      return [r.mutations ? mutate(frame, r.mutations, 19) : frame];
    }
    case 'upload': {
      const data = Uint8Array.from({ length: r.size }, (_, i) => (i * 13 + r.packet) & 0xff);
      let frames = fileFrames({ clientId: ctx.self.clientId, aesKey }, r.fileName || 'x', data, r.packet);
      for (const op of r.ops) {
        const n = frames.length;
        if (n === 0) break;
        switch (op.kind) {
          case 'mutate': {
            const i = op.index % n;
            frames[i] = mutate(frames[i]!, op.mutations, 19);
            break;
          }
          case 'swap':
          case 'drop':
          case 'dup':
          case 'cut':
            frames = applySequenceOp(frames, op);
            break;
          case 'totals': {
            const f = frames[op.index % n]!.slice();
            if (f.length >= 35) new DataView(f.buffer).setUint16(33, op.total, true);
            frames[op.index % n] = f;
            break;
          }
        }
      }
      return frames;
    }
  }
}

/**
 * The writes a Delivery makes of `bytes`. 'bytes': one byte per write up to 4 KiB, past that
 * `longer` in turn (bounded time for long inputs).
 */
export function deliveryChunks(
  bytes: Uint8Array,
  d: Delivery,
  longer: readonly number[] = [1, 3, 7, 64],
): Uint8Array[] {
  if (bytes.length === 0) return [];
  if (d.kind === 'whole') return [bytes];
  if (d.kind === 'bytes') return chunkBy(bytes, bytes.length <= 4096 ? [1] : longer);
  return chunkBy(bytes, d.sizes);
}

export interface CaseResult {
  /** Response codes received, in order. */
  responses: number[];
  /** The server closed before we finished sending (a framing error, usually). */
  closedEarly: boolean;
}

export class FuzzFailure extends Error {}

/** Writes `chunk` and resolves once it is flushed (at once if the socket is gone). */
export function writeAndFlush(sock: Socket, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (sock.destroyed || !sock.writable) return resolve();
    sock.write(chunk, () => resolve());
  });
}

/** A connected socket to 127.0.0.1:`port` (no delay; errors after connecting are left to 'close'). */
export async function connectTcp(port: number): Promise<Socket> {
  const sock = connect({ host: '127.0.0.1', port });
  sock.setNoDelay(true);
  sock.on('error', () => {});
  await new Promise<void>((res, rej) => {
    sock.once('connect', () => res());
    sock.once('error', rej);
  });
  return sock;
}

/** One case over TCP against the server at `port`. Throws FuzzFailure when the server misbehaves. */
export async function runTcpCase(
  port: number,
  ctx: FuzzContext,
  c: FuzzCase,
  closeTimeoutMs = 15_000,
): Promise<CaseResult> {
  const sock = await connectTcp(port);
  const decoder = new ResponseFrameDecoder();
  const responses: Response[] = [];
  let bad: unknown = null;
  let wake: (() => void) | null = null;
  sock.on('data', (chunk: Buffer) => {
    try {
      for (const f of decoder.push(chunk)) responses.push(decodeResponse(f.header, f.payload));
    } catch (e) {
      bad ??= e;
    }
    wake?.();
  });
  let closed = false;
  const closedP = new Promise<void>((res) =>
    sock.once('close', () => {
      closed = true;
      wake?.();
      res();
    }),
  );
  try {
    let aesKey: Buffer = Buffer.alloc(32, 7);
    if (c.prelude === 'keyed') {
      await writeAndFlush(
        sock,
        encodeRequest({ code: RequestCode.Reconnect, clientId: ctx.self.clientId, name: ctx.self.name }),
      );
      const t0 = Date.now();
      while (responses.length === 0 && !closed && Date.now() - t0 < closeTimeoutMs) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      const r = responses.shift();
      if (r?.code !== ResponseCode.Reconnected) {
        throw new FuzzFailure(`prelude: 1027 answered ${r?.code ?? (closed ? 'close' : 'nothing')}`);
      }
      aesKey = unwrapKey(ctx.self.keys, r.encryptedKey);
    }
    const bytes = concatBytes(c.frames.flatMap((f) => materialize(f, ctx, aesKey)));
    for (const chunk of deliveryChunks(bytes, c.delivery)) {
      if (closed) break;
      await writeAndFlush(sock, chunk);
    }
    const closedEarly = closed;
    sock.end();
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), closeTimeoutMs).unref());
    if ((await Promise.race([closedP, timer])) === 'timeout') {
      throw new FuzzFailure(`the server did not close the connection ${closeTimeoutMs} ms after our FIN`);
    }
    if (bad) throw new FuzzFailure(`the server sent an invalid response: ${(bad as Error).message}`);
    return { responses: responses.map((r) => r.code), closedEarly };
  } finally {
    sock.destroy();
  }
}

// ---------------------------------------------------------------- through the bridge

/** How a case's frames become WebSocket messages. */
export type BridgeDelivery =
  /** One binary message per frame: what the bridge expects. */
  | { kind: 'messages' }
  /** The frames' bytes re-cut at random: most messages are not one whole frame. */
  | { kind: 'recut'; sizes: number[] }
  /** Each frame sent as a fragmented message (continuation frames), rejoined by the bridge. */
  | { kind: 'fragments'; sizes: number[] }
  /** A text message first. */
  | { kind: 'text' };

export interface BridgeCase {
  prelude: 'none' | 'keyed';
  frames: FrameRecipe[];
  delivery: BridgeDelivery;
}

export function arbBridgeCase(maxPayload: number): fc.Arbitrary<BridgeCase> {
  return fc.record({
    prelude: fc.constantFrom('none' as const, 'keyed' as const),
    // Uploads weigh more here: most other recipes stop at the bridge's frame check.
    frames: fc.array(fc.oneof(arbRecipe(maxPayload), arbUploadRecipe), { minLength: 1, maxLength: 4 }),
    delivery: fc.oneof(
      { weight: 4, arbitrary: fc.constant({ kind: 'messages' as const }) },
      fc.record({ kind: fc.constant('recut' as const), sizes: arbChunkSizes }),
      fc.record({ kind: fc.constant('fragments' as const), sizes: arbChunkSizes }),
      fc.constant({ kind: 'text' as const }),
    ),
  });
}

/** Close codes the bridge may end a hostile connection with; anything else fails the case. */
export const ALLOWED_BRIDGE_CLOSES: ReadonlySet<number> = new Set([
  1000, // our own close, echoed
  1005, // closed without a code
  1009, // message over the bridge's maxPayload
  4000, // text message
  4001, // malformed frame
  4002, // frame too large
  4006, // the file server closed its side (after a framing error it must)
]);

export interface BridgeCaseResult {
  responses: number[];
  closeCode: number;
}

/** Sends one WebSocket frame (binary unless a string; `fin` false for a fragment); resolves once written. */
export function sendWs(
  ws: WebSocket,
  data: Uint8Array | string,
  opts: { fin?: boolean } = {},
): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState !== WebSocket.OPEN) return resolve();
    ws.send(data, { binary: typeof data !== 'string', fin: opts.fin ?? true }, () => resolve());
  });
}

/** One case through the bridge at `url`. Throws FuzzFailure when the bridge or server misbehaves. */
export async function runBridgeCase(
  url: string,
  ctx: FuzzContext,
  c: BridgeCase,
  closeTimeoutMs = 15_000,
): Promise<BridgeCaseResult> {
  const ws = new WebSocket(url, { perMessageDeflate: false, origin: ORIGIN });
  ws.on('error', () => {});
  const responses: Response[] = [];
  let bad: unknown = null;
  let wake: (() => void) | null = null;
  ws.on('message', (data: Buffer, isBinary) => {
    try {
      if (!isBinary) throw new Error('text message from the bridge');
      const frames = new ResponseFrameDecoder().push(data);
      if (frames.length !== 1) throw new Error(`a message carried ${frames.length} response frames`);
      responses.push(decodeResponse(frames[0]!.header, frames[0]!.payload));
    } catch (e) {
      bad ??= e;
    }
    wake?.();
  });
  let closeCode = -1;
  const closed = new Promise<void>((res) =>
    ws.once('close', (code) => {
      closeCode = code;
      wake?.();
      res();
    }),
  );
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('unexpected-response', (_q, r) =>
      rej(new FuzzFailure(`bridge refused the upgrade: HTTP ${r.statusCode}`)),
    );
    ws.once('error', rej);
  });
  try {
    let aesKey: Buffer = Buffer.alloc(32, 7);
    if (c.prelude === 'keyed') {
      await sendWs(
        ws,
        encodeRequest({ code: RequestCode.Reconnect, clientId: ctx.self.clientId, name: ctx.self.name }),
      );
      const t0 = Date.now();
      while (responses.length === 0 && closeCode < 0 && Date.now() - t0 < closeTimeoutMs) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
      }
      const r = responses.shift();
      if (r?.code !== ResponseCode.Reconnected) {
        throw new FuzzFailure(`prelude: 1027 answered ${r?.code ?? `close ${closeCode}`}`);
      }
      aesKey = unwrapKey(ctx.self.keys, r.encryptedKey);
    }
    const frames = c.frames.flatMap((f) => materialize(f, ctx, aesKey));
    const d = c.delivery;
    if (d.kind === 'text') await sendWs(ws, 'hello');
    if (d.kind === 'recut') {
      for (const m of chunkBy(concatBytes(frames), d.sizes)) await sendWs(ws, m);
    } else {
      for (const f of frames) {
        if (d.kind === 'fragments' && f.length > 1) {
          const parts = chunkBy(f, d.sizes);
          for (let i = 0; i < parts.length; i++) await sendWs(ws, parts[i]!, { fin: i === parts.length - 1 });
        } else await sendWs(ws, f);
      }
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(1000);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), closeTimeoutMs).unref());
    if ((await Promise.race([closed, timer])) === 'timeout') {
      throw new FuzzFailure(`the WebSocket did not close within ${closeTimeoutMs} ms`);
    }
    if (bad) throw new FuzzFailure(`invalid message from the bridge: ${(bad as Error).message}`);
    if (!ALLOWED_BRIDGE_CLOSES.has(closeCode)) throw new FuzzFailure(`unexpected close code ${closeCode}`);
    return { responses: responses.map((r) => r.code), closeCode };
  } finally {
    ws.terminate();
  }
}

// ---------------------------------------------------------------- batches

export interface FuzzStats {
  cases: number;
  /** Response code (or 'close:<code>' for the bridge) -> count. */
  outcomes: Map<string, number>;
}

export function newStats(): FuzzStats {
  return { cases: 0, outcomes: new Map() };
}

export function count(stats: FuzzStats, key: string): void {
  stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
}

export function formatStats(stats: FuzzStats): string {
  const top = [...stats.outcomes].sort((a, b) => b[1] - a[1]).slice(0, 12);
  return `${stats.cases} cases; ${top.map(([k, n]) => `${k}: ${n}`).join(', ')}`;
}
