/**
 * Hostile protocol v4 byte streams for the real server, directly over TCP or through the
 * bridge (which relays v4: docs/PROTOCOL.md, "Version 4 through the bridge"). Shared by
 * test/hostile/v4-fuzz.test.ts and `npm run fuzz -- --only v4` (scripts/fuzz.ts); the v3
 * counterpart is frame-fuzz.ts, whose rules this follows.
 *
 * Case kinds, each on its own connection:
 * - before the handshake: the preamble then random bytes; a frame header of any type and any
 *   declared length (0, small, the type's limits, up to 2^32 - 1) with a random body; the
 *   real ClientHello mutated (bit flips, truncation, a wrong length, another suite, a zero or
 *   low-order ephemeral key) with bytes after it; a wrong or partial preamble (then the
 *   server speaks version 3: its answer must be a valid v3 response).
 * - in the handshake: a real ClientHello, the server's answer verified, then our real
 *   ClientAuth mutated, as a sealed frame or as plaintext sealed correctly (so the server's
 *   message decoder and signature check run).
 * - after a complete, real handshake as the fuzz client (its own Ed25519 key, registered
 *   once): Sealed messages under the real session key carrying hostile UploadStarts (sizes
 *   0, 1, record boundaries, the max file size and past it, 2^53 - 1 and past it; names such
 *   as `../x`, `/etc/passwd`, `CON`, empty, 300 bytes, control characters, bad UTF-8; wrong
 *   length fields and record sizes; resume on or off with fresh, random, kept or reused
 *   upload IDs), UploadAborts, Byes, unknown and random messages, Sealed frames with a bad
 *   tag, a skipped or replayed sequence number, and the Chunks of started uploads sealed
 *   with their real STREAM (StreamSealer), then reordered, dropped, duplicated, cut,
 *   truncated, bit-flipped, lengthened, sealed for another upload or session, or declared
 *   with another length.
 * Delivered whole, one byte per write (small bursts), or in random chunks; through the
 * bridge one frame per message, several per message, re-cut, fragmented, or after a text
 * message.
 *
 * Each case is judged on: every byte the server sent back decodes as v4 frames the server
 * may send, in an order it may send them: before the session a ServerHello, a ServerAuth
 * (verified when we hold the handshake's keys) and at most one fatal Alert, last; after it
 * Sealed frames that open, in order, under the session's key into messages a server sends
 * (an UploadReady, UploadDone or UploadAborted naming an upload we sent; an UploadDone
 * whose size and SHA-256 are those of the file we sent; an Error whose fatal flag agrees
 * with its code), or a fatal Alert, and nothing after a fatal one; the server closes the
 * connection within a bounded time after our FIN; and through the bridge the WebSocket
 * closes with a code the bridge documents (4007, "the server sent an invalid response", is
 * a failure), each server frame in a message of its own.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { decodeResponse, ResponseFrameDecoder } from '../../lib/protocol';
import { concatBytes } from '../../lib/protocol/bytes';
import {
  DEFAULT_MAX_FILE_SIZE_V4,
  FRAME_BODY_LIMITS,
  FrameType,
  isFatalCode,
  MAX_MESSAGE_SIZE,
  MAX_U64,
  MessageType,
  PREAMBLE_SIZE,
  RECORD_SIZE,
  SERVER_TO_CLIENT_FRAMES,
  SUITE_1,
  TAG_SIZE,
} from '../../lib/protocol/v4/constants';
import { FrameDecoder } from '../../lib/protocol/v4/frame-decoder';
import {
  encodeFrame,
  encodeFrameHeader,
  encodePreamble,
  type Frame,
  isPreamble,
} from '../../lib/protocol/v4/frames';
import {
  decodeAlert,
  decodeHello,
  decodeMessage,
  encodeHello,
  encodeMessage,
  type Message,
} from '../../lib/protocol/v4/messages';
import { CLIENT_SIGNATURE_CONTEXT, SERVER_SIGNATURE_CONTEXT } from '../../lib/v4/handshake';
import { handshakeKeys, sessionKeys, sharedSecret, Transcript } from '../../lib/v4/key-schedule';
import {
  generateEphemeralKey,
  generateSigningKey,
  type KeyPairWithRaw,
  sign,
  verify,
} from '../../lib/v4/keys';
import { RecordOpener, RecordSealer } from '../../lib/v4/record-layer';
import { recordCount, recordLength, StreamSealer } from '../../lib/v4/stream';
import {
  applySequenceOp,
  arbChunkSizes,
  arbMutations,
  chunkBy,
  type Mutation,
  mutate,
  type SequenceOp,
} from './arbitraries';
import {
  ALLOWED_BRIDGE_CLOSES,
  connectTcp,
  type Delivery,
  deliveryChunks,
  FUZZ_SERVER_ARGS,
  FuzzFailure,
  type FuzzStats,
  sendWs,
  writeAndFlush,
} from './frame-fuzz';
import { ORIGIN } from './hostile';

export { FuzzFailure };

/**
 * The fuzzed server's options for v4: frame-fuzz.ts's (caps, rates and handshake limits
 * opened up), and no cap on the fuzz client's unfinished uploads: the cases leave hundreds
 * behind, and past the cap (32) every UploadStart would get Error 6 and reach nothing deeper.
 */
export const V4_FUZZ_SERVER_ARGS: readonly string[] = [
  ...FUZZ_SERVER_ARGS,
  '--max-partial-uploads',
  '1000000',
];

/** Offset of the u32 length in a v4 frame header (for arbitraries.ts's `size` mutation). */
const LENGTH_OFFSET = 2;
/** Records of one upload a case sends at most (each up to 256 KiB). */
const MAX_SENT_RECORDS = 3;
const SERVER_AUTH_BODY = 97 + TAG_SIZE;

// ---------------------------------------------------------------- the fuzz client

export interface KeptUpload {
  uploadId: Uint8Array;
  fileKey: Uint8Array;
  size: number;
  name: string;
  /** The seed of its bytes (fileBytes). */
  seed: number;
}

export interface V4FuzzContext {
  /** The fuzz client's long-term key (registered by v4FuzzContext). */
  identity: KeyPairWithRaw;
  name: string;
  clientId: Uint8Array;
  /** The server's key, learned at the first handshake: every later ServerAuth must carry it. */
  serverKey: Uint8Array;
  /** Welcome's max file size for the fuzz client. */
  maxFileSize: number;
  /** Uploads earlier cases started and cut: the server may keep them, later cases resume or clash with them. */
  kept: KeptUpload[];
}

const KEPT_LIMIT = 64;

/** Registers the fuzz client with a real handshake (then Bye) and returns what the cases need. */
export async function v4FuzzContext(port: number, closeTimeoutMs = 15_000): Promise<V4FuzzContext> {
  const identity = await generateSigningKey(false);
  const ctx: V4FuzzContext = {
    identity,
    name: 'v4-fuzzer',
    clientId: new Uint8Array(16),
    serverKey: new Uint8Array(0),
    maxFileSize: 0,
    kept: [],
  };
  const link = await TcpLink.open(port, { kind: 'whole' }, 'v4');
  try {
    const judge = new Judge(ctx);
    const est = await handshake(link, ctx, judge, null, closeTimeoutMs);
    if (!est) throw new FuzzFailure('the fuzz client could not register');
    ctx.clientId = est.welcome.clientId;
    ctx.maxFileSize = est.welcome.maxFileSize;
    await link.send([await est.sealer.seal(encodeMessage({ type: MessageType.Bye }))]);
    await link.finish(closeTimeoutMs);
  } finally {
    link.destroy();
  }
  return ctx;
}

// ---------------------------------------------------------------- recipes

export type { Delivery };

export type BridgeDelivery =
  /** One frame per message: what the bridge expects. */
  | { kind: 'messages' }
  /** Up to `per` frames in one message (the bridge takes up to 16). */
  | { kind: 'batch'; per: number }
  /** The bytes re-cut at random: most messages are not whole frames. */
  | { kind: 'recut'; sizes: number[] }
  /** Each message sent as WebSocket fragments, rejoined by the bridge. */
  | { kind: 'fragments'; sizes: number[] }
  /** A text message first. */
  | { kind: 'text' };

type Ephemeral = 'real' | 'zero' | 'one' | 'random';

export type PreRecipe =
  /** The preamble, then random bytes. */
  | { kind: 'random'; bytes: Uint8Array }
  /** The preamble (and a real ClientHello first when `hello`), then a header of any type and length. */
  | { kind: 'header'; hello: boolean; type: number; length: 'exact' | number; body: Uint8Array }
  /** The real ClientHello frame, its suite or key replaced and its bytes mutated, then `tail`. */
  | {
      kind: 'hello';
      suite: number;
      ephemeral: Ephemeral;
      mutations: Mutation[] | null;
      tail: Uint8Array;
    }
  /** The preamble mutated or cut (a version 3 connection for the server), then a ClientHello. */
  | { kind: 'preamble'; mutations: Mutation[]; hello: boolean };

export interface AuthRecipe {
  /** 'frame': the sealed ClientAuth's bytes mutated; 'plain': its plaintext, then sealed correctly. */
  target: 'frame' | 'plain';
  mutations: Mutation[];
  tail: Uint8Array;
}

/** A file name as sent: text, or raw bytes (bad UTF-8), and the length field it claims. */
interface NameSpec {
  name: string | Uint8Array;
  /** The u16 name length field; null = the name's real length. */
  lengthField: number | null;
}

type IdPick = 'fresh' | 'random' | 'kept' | 'previous';

type ChunkOp =
  | SequenceOp
  | { kind: 'flip'; i: number; at: number; bit: number }
  | { kind: 'truncate'; i: number; at: number }
  | { kind: 'extend'; i: number; bytes: number }
  | { kind: 'foreign'; i: number; from: 'upload' | 'session' }
  | { kind: 'length'; i: number; length: number };

export type Step =
  | {
      kind: 'upload';
      seed: number;
      /** A number, or a u64 past 2^53 - 1 the encoder writes as it is. */
      size: number | bigint;
      name: NameSpec;
      id: IdPick;
      resume: boolean;
      /** A resume with another file key, size or name than the kept upload's. */
      mismatch: 'none' | 'key' | 'size' | 'name';
      recordSize: number;
      /** Wait for the answer before the Chunks (as a real client does), or send them at once. */
      wait: boolean;
      ops: ChunkOp[];
    }
  | { kind: 'abort'; id: 'current' | 'random' | 'kept' }
  | { kind: 'bye' }
  /** Any plaintext (its first byte the message type), sealed correctly. */
  | { kind: 'message'; bytes: Uint8Array }
  | { kind: 'bad-seal'; how: 'tag' | 'skip' | 'replay' | 'garbage'; at: number; bit: number }
  /** A raw frame of any type and declared length. */
  | { kind: 'frame'; type: number; length: 'exact' | number; body: Uint8Array }
  /** A Chunk outside an upload. */
  | { kind: 'chunk'; length: number };

export type V4Case =
  | { kind: 'pre'; pre: PreRecipe }
  | { kind: 'auth'; auth: AuthRecipe }
  | { kind: 'session'; steps: Step[] };

export interface V4TcpCase {
  c: V4Case;
  delivery: Delivery;
}
export interface V4BridgeCase {
  c: V4Case;
  delivery: BridgeDelivery;
}

// ---------------------------------------------------------------- arbitraries

function arbDeclaredLength(): fc.Arbitrary<'exact' | number> {
  const limits = Object.values(FRAME_BODY_LIMITS).flatMap(([min, max]) => [min - 1, min, max, max + 1]);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant('exact' as const) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 700 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(0, ...limits, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff),
    },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) },
  );
}

const arbFrameType: fc.Arbitrary<number> = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) },
  fc.integer({ min: 0, max: 255 }),
);

export const arbPreRecipe: fc.Arbitrary<PreRecipe> = fc.oneof(
  fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) }),
  fc.record({
    kind: fc.constant('header' as const),
    hello: fc.boolean(),
    type: arbFrameType,
    length: arbDeclaredLength(),
    body: fc.uint8Array({ maxLength: 600 }),
  }),
  fc.record({
    kind: fc.constant('hello' as const),
    suite: fc.oneof({ weight: 4, arbitrary: fc.constant(SUITE_1) }, fc.integer({ min: 0, max: 0xffff })),
    ephemeral: fc.constantFrom<Ephemeral>('real', 'real', 'zero', 'one', 'random'),
    mutations: fc.option(arbMutations, { nil: null }),
    tail: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 })),
  }),
  fc.record({ kind: fc.constant('preamble' as const), mutations: arbMutations, hello: fc.boolean() }),
);

export const arbAuthRecipe: fc.Arbitrary<AuthRecipe> = fc.record({
  target: fc.constantFrom('frame' as const, 'plain' as const),
  mutations: arbMutations,
  tail: fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 200 })),
});

const HOSTILE_NAMES: readonly string[] = [
  'report.pdf',
  'notes.txt',
  '../x',
  '/etc/passwd',
  '..\\..\\x',
  'a/../../b',
  'CON',
  'com1.txt',
  'NUL.bin',
  '.',
  '..',
  '',
  ' ',
  '.hidden',
  'tab\there',
  'nl\nname',
  'del\u007f',
  'ünïcödé-名前.txt',
  '\u202etxt.exe',
  '😀'.repeat(63),
  'x'.repeat(255),
  'x'.repeat(256),
  'y'.repeat(300),
];

const arbNameSpec: fc.Arbitrary<NameSpec> = fc.record({
  name: fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...HOSTILE_NAMES) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  ),
  lengthField: fc.oneof(
    { weight: 8, arbitrary: fc.constant(null) },
    fc.constantFrom(0, 1, 255, 256, 0xffff),
    fc.integer({ min: 0, max: 400 }),
  ),
});

function arbSize(): fc.Arbitrary<number | bigint> {
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc.constantFrom(0, 1, 2, RECORD_SIZE - 1, RECORD_SIZE, RECORD_SIZE + 1, 2 * RECORD_SIZE),
    },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 3 * RECORD_SIZE }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 2 ** 40 }) },
    {
      weight: 2,
      arbitrary: fc.constantFrom<number | bigint>(
        DEFAULT_MAX_FILE_SIZE_V4,
        DEFAULT_MAX_FILE_SIZE_V4 + 1,
        2 ** 32 * RECORD_SIZE,
        MAX_U64,
        2n ** 53n,
        2n ** 64n - 1n,
      ),
    },
  );
}

const arbChunkOp: fc.Arbitrary<ChunkOp> = fc.oneof(
  fc.record({ kind: fc.constant('swap' as const), i: fc.nat(), j: fc.nat() }),
  fc.record({ kind: fc.constant('drop' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('dup' as const), i: fc.nat() }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('flip' as const),
    i: fc.nat(),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), i: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), i: fc.nat(), bytes: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('foreign' as const),
    i: fc.nat(),
    from: fc.constantFrom('upload' as const, 'session' as const),
  }),
  fc.record({
    kind: fc.constant('length' as const),
    i: fc.nat(),
    length: arbDeclaredLength().filter((l) => l !== 'exact') as fc.Arbitrary<number>,
  }),
);

export const arbUploadStep: fc.Arbitrary<Step> = fc.record({
  kind: fc.constant('upload' as const),
  seed: fc.integer({ min: 0, max: 255 }),
  size: arbSize(),
  name: fc.oneof(
    {
      weight: 3,
      arbitrary: fc
        .constantFrom('a.bin', 'report.pdf', 'fuzz.dat')
        .map((name): NameSpec => ({ name, lengthField: null })),
    },
    { weight: 2, arbitrary: arbNameSpec },
  ),
  id: fc.constantFrom<IdPick>('fresh', 'fresh', 'fresh', 'random', 'kept', 'previous'),
  resume: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, fc.constant(true)),
  mismatch: fc.constantFrom(
    'none' as const,
    'none' as const,
    'key' as const,
    'size' as const,
    'name' as const,
  ),
  recordSize: fc.oneof(
    { weight: 12, arbitrary: fc.constant(RECORD_SIZE) },
    fc.constantFrom(0, 1, RECORD_SIZE - 1, 2 * RECORD_SIZE, 0xffff_ffff),
  ),
  wait: fc.boolean(),
  ops: fc.oneof(
    { weight: 2, arbitrary: fc.constant<ChunkOp[]>([]) },
    fc.array(arbChunkOp, { minLength: 1, maxLength: 3 }),
  ),
});

const MESSAGE_TYPES = Object.values(MessageType) as number[];

export const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: arbUploadStep },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('abort' as const),
      id: fc.constantFrom('current' as const, 'random' as const, 'kept' as const),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'bye' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      bytes: fc.oneof(
        fc
          .tuple(
            fc.oneof(fc.constantFrom(...MESSAGE_TYPES), fc.integer({ min: 0, max: 255 })),
            fc.uint8Array({ maxLength: 400 }),
          )
          .map(([t, rest]) => Uint8Array.of(t, ...rest)),
        fc.constantFrom(
          new Uint8Array(0),
          new Uint8Array(MAX_MESSAGE_SIZE + 1),
          new Uint8Array(MAX_MESSAGE_SIZE).fill(MessageType.Bye),
        ),
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad-seal' as const),
      how: fc.constantFrom('tag' as const, 'skip' as const, 'replay' as const, 'garbage' as const),
      at: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('frame' as const),
      type: arbFrameType,
      length: arbDeclaredLength(),
      body: fc.uint8Array({ maxLength: 600 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('chunk' as const),
      length: fc.integer({ min: TAG_SIZE, max: 2048 }),
    }),
  },
);

export const arbV4Case: fc.Arbitrary<V4Case> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pre' as const), pre: arbPreRecipe }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('auth' as const), auth: arbAuthRecipe }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('session' as const),
      steps: fc.array(arbStep, { minLength: 1, maxLength: 4 }),
    }),
  },
);

export const arbDelivery: fc.Arbitrary<Delivery> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: 'whole' as const }) },
  fc.constant({ kind: 'bytes' as const }),
  fc.record({ kind: fc.constant('chunks' as const), sizes: arbChunkSizes }),
);

export const arbV4TcpCase: fc.Arbitrary<V4TcpCase> = fc.record({ c: arbV4Case, delivery: arbDelivery });

export const arbV4BridgeCase: fc.Arbitrary<V4BridgeCase> = fc.record({
  // Sessions weigh more here: most other recipes stop at the bridge's frame check.
  c: fc.oneof(
    arbV4Case,
    fc.record({
      kind: fc.constant('session' as const),
      steps: fc.array(arbStep, { minLength: 1, maxLength: 4 }),
    }),
  ),
  delivery: fc.oneof(
    { weight: 5, arbitrary: fc.constant({ kind: 'messages' as const }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('batch' as const), per: fc.integer({ min: 2, max: 17 }) }),
    },
    fc.record({ kind: fc.constant('recut' as const), sizes: arbChunkSizes }),
    fc.record({ kind: fc.constant('fragments' as const), sizes: arbChunkSizes }),
    fc.constant({ kind: 'text' as const }),
  ),
});

// ---------------------------------------------------------------- links: TCP and WebSocket

/** What the server's bytes are read as: v4 frames, or v3 responses (after a preamble that is not one). */
type Mode = 'v4' | 'v3';

interface Link {
  /** Sends `units` (whole frames, or runs of bytes) as the link's delivery wants; nothing once closed. */
  send(units: Uint8Array[]): Promise<void>;
  /** The next v4 frame from the server; null once the connection closed, 'timeout' after `ms`. */
  next(ms: number): Promise<Frame | null | 'timeout'>;
  readonly closed: boolean;
  /** Whether the link carries a handshake as the protocol wants it (TCP; the bridge one frame per message). */
  readonly faithful: boolean;
  /** Our FIN (TCP) or close (WebSocket); throws FuzzFailure when the server does not close in time. */
  finish(ms: number): Promise<void>;
  /** The first invalid byte stream or message from the server, if any. */
  readonly bad: unknown;
  /** v3 response codes received (mode 'v3'). */
  readonly v3Codes: number[];
  /** The WebSocket's close code (bridge only). */
  readonly closeCode: number;
  destroy(): void;
}

class Inbox {
  readonly frames: Frame[] = [];
  #wake: (() => void) | null = null;
  closed = false;

  push(f: Frame): void {
    this.frames.push(f);
    this.wake();
  }
  wake(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }
  async next(ms: number): Promise<Frame | null | 'timeout'> {
    const t0 = Date.now();
    for (;;) {
      const f = this.frames.shift();
      if (f) return f;
      if (this.closed) return null;
      const left = ms - (Date.now() - t0);
      if (left <= 0) return 'timeout';
      await new Promise<void>((r) => {
        this.#wake = r;
        setTimeout(r, Math.min(left, 200)).unref();
      });
    }
  }
}

/** A record's 256 KiB in mixed pieces under 'bytes' delivery (one byte per write up to 4 KiB). */
const LONGER_BURSTS = [1, 3, 7, 64, 1500, 16_384];

class TcpLink implements Link {
  readonly #sock: Socket;
  readonly #delivery: Delivery;
  readonly #inbox = new Inbox();
  readonly #closedP: Promise<void>;
  bad: unknown = null;
  readonly v3Codes: number[] = [];
  readonly closeCode = -1;
  readonly faithful = true;

  private constructor(sock: Socket, delivery: Delivery, mode: Mode) {
    this.#sock = sock;
    this.#delivery = delivery;
    const v4 = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
    const v3 = new ResponseFrameDecoder();
    sock.on('data', (chunk: Buffer) => {
      if (this.bad) return;
      try {
        if (mode === 'v4') for (const f of v4.push(chunk)) this.#inbox.push(f);
        else for (const f of v3.push(chunk)) this.v3Codes.push(decodeResponse(f.header, f.payload).code);
      } catch (e) {
        this.bad = e;
        this.#inbox.wake();
      }
    });
    this.#closedP = new Promise<void>((res) =>
      sock.once('close', () => {
        this.#inbox.closed = true;
        this.#inbox.wake();
        res();
      }),
    );
  }

  static async open(port: number, delivery: Delivery, mode: Mode): Promise<TcpLink> {
    return new TcpLink(await connectTcp(port), delivery, mode);
  }

  get closed(): boolean {
    return this.#inbox.closed;
  }

  async send(units: Uint8Array[]): Promise<void> {
    for (const chunk of deliveryChunks(concatBytes(units), this.#delivery, LONGER_BURSTS)) {
      if (this.closed) return;
      await writeAndFlush(this.#sock, chunk);
    }
  }

  next(ms: number): Promise<Frame | null | 'timeout'> {
    return this.#inbox.next(ms);
  }

  async finish(ms: number): Promise<void> {
    this.#sock.end();
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
    if ((await Promise.race([this.#closedP, timer])) === 'timeout')
      throw new FuzzFailure(`the server did not close the connection ${ms} ms after our FIN`);
  }

  /** Frames still unread (after finish). */
  rest(): Frame[] {
    return this.#inbox.frames.splice(0);
  }

  destroy(): void {
    this.#sock.destroy();
  }
}

/** Fragments per WebSocket message the fuzzer sends at most (ws's maxFragments is 16,384). */
const MAX_FRAGMENTS = 4096;

class WsLink implements Link {
  readonly #ws: WebSocket;
  readonly #delivery: BridgeDelivery;
  readonly #inbox = new Inbox();
  readonly #closedP: Promise<void>;
  #textSent = false;
  bad: unknown = null;
  readonly v3Codes: number[] = [];
  closeCode = -1;
  readonly faithful: boolean;

  private constructor(ws: WebSocket, delivery: BridgeDelivery, mode: Mode) {
    this.#ws = ws;
    this.#delivery = delivery;
    this.faithful =
      delivery.kind === 'messages' || delivery.kind === 'batch' || delivery.kind === 'fragments';
    ws.on('message', (data: Buffer, isBinary) => {
      if (this.bad) return;
      try {
        if (!isBinary) throw new Error('a text message from the bridge');
        if (mode === 'v4') {
          const d = new FrameDecoder({ allowed: SERVER_TO_CLIENT_FRAMES });
          const frames = d.push(data);
          if (frames.length !== 1 || !d.idle)
            throw new Error(
              `a message carried ${frames.length} v4 frames and ${d.idle ? 'nothing' : 'a part'} more`,
            );
          this.#inbox.push(frames[0]!);
        } else {
          const frames = new ResponseFrameDecoder().push(data);
          if (frames.length !== 1) throw new Error(`a message carried ${frames.length} response frames`);
          this.v3Codes.push(decodeResponse(frames[0]!.header, frames[0]!.payload).code);
        }
      } catch (e) {
        this.bad = e;
        this.#inbox.wake();
      }
    });
    this.#closedP = new Promise<void>((res) =>
      ws.once('close', (code) => {
        this.closeCode = code;
        this.#inbox.closed = true;
        this.#inbox.wake();
        res();
      }),
    );
  }

  static async open(url: string, delivery: BridgeDelivery, mode: Mode): Promise<WsLink> {
    const ws = new WebSocket(url, { perMessageDeflate: false, origin: ORIGIN });
    ws.on('error', () => {});
    const link = new WsLink(ws, delivery, mode);
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('unexpected-response', (_q, r) =>
        rej(new FuzzFailure(`bridge refused the upgrade: HTTP ${r.statusCode}`)),
      );
      ws.once('error', rej);
    });
    return link;
  }

  get closed(): boolean {
    return this.#inbox.closed;
  }

  async send(units: Uint8Array[]): Promise<void> {
    const d = this.#delivery;
    if (d.kind === 'text' && !this.#textSent) {
      this.#textSent = true;
      await sendWs(this.#ws, 'hello');
    }
    let messages: Uint8Array[];
    if (d.kind === 'recut') messages = chunkBy(concatBytes(units), d.sizes);
    else if (d.kind === 'batch') {
      messages = [];
      for (let i = 0; i < units.length; i += d.per) messages.push(concatBytes(units.slice(i, i + d.per)));
    } else messages = units.filter((u) => u.length > 0);
    for (const m of messages) {
      if (this.closed) return;
      if (d.kind === 'fragments' && m.length > 1) {
        // At most MAX_FRAGMENTS a message: past ws's limit (16,384) the bridge closes with
        // 1008 (docs/PROTOCOL.md, "Close codes"), which is not what this fuzzes.
        const least = Math.ceil(m.length / MAX_FRAGMENTS);
        const parts = chunkBy(
          m,
          d.sizes.map((n) => Math.max(n, least)),
        );
        for (let i = 0; i < parts.length; i++)
          await sendWs(this.#ws, parts[i]!, { fin: i === parts.length - 1 });
      } else await sendWs(this.#ws, m);
    }
  }

  next(ms: number): Promise<Frame | null | 'timeout'> {
    return this.#inbox.next(ms);
  }

  async finish(ms: number): Promise<void> {
    if (this.#ws.readyState === WebSocket.OPEN) this.#ws.close(1000);
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms).unref());
    if ((await Promise.race([this.#closedP, timer])) === 'timeout')
      throw new FuzzFailure(`the WebSocket did not close within ${ms} ms`);
    if (!ALLOWED_BRIDGE_CLOSES.has(this.closeCode))
      throw new FuzzFailure(`unexpected close code ${this.closeCode}`);
  }

  rest(): Frame[] {
    return this.#inbox.frames.splice(0);
  }

  destroy(): void {
    this.#ws.terminate();
  }
}

// ---------------------------------------------------------------- judging what the server sends

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const SERVER_MESSAGES: ReadonlySet<number> = new Set([
  MessageType.UploadReady,
  MessageType.UploadDone,
  MessageType.UploadAborted,
  MessageType.Bye,
  MessageType.Error,
]);
const MESSAGE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MessageType).map(([k, v]) => [v, k]),
);

/**
 * Judges the server's frames in order. Before `session` is set: ServerHello, then the sealed
 * ServerAuth, then at most a fatal Alert. After it: Sealed frames that open in order into
 * messages a server sends (naming uploads we sent), or a fatal Alert; nothing after a fatal one.
 */
class Judge {
  readonly #ctx: V4FuzzContext;
  /** The session opener (server direction) once we hold the session keys. */
  session: RecordOpener | null = null;
  /** A Welcome may come first (the auth cases, whose handshake the judge finishes). */
  welcomeDue = false;
  #seenHello = false;
  #seenServerAuth = false;
  #terminal: string | null = null;
  /** Upload IDs we sent (UploadStart or UploadAbort). */
  readonly ids = new Set<string>();
  /** What an UploadDone must report, for uploads whose whole file we know. */
  readonly expected = new Map<string, { size: number; sha256: string }[]>();
  /** IDs that also named a file whose bytes we do not compute (too large to send whole). */
  readonly #unknown = new Set<string>();
  readonly outcomes: string[] = [];

  /** An UploadStart under `id` of this file (null: one we do not compute). */
  expect(id: string, file: { size: number; sha256: string } | null): void {
    if (file === null) this.#unknown.add(id);
    else this.expected.set(id, [...(this.expected.get(id) ?? []), file]);
  }

  constructor(ctx: V4FuzzContext) {
    this.#ctx = ctx;
  }

  /** Judges one frame; returns the opened message (null for Alerts and handshake frames). */
  async take(f: Frame): Promise<Message | null> {
    if (this.#terminal)
      throw new FuzzFailure(`the server sent a frame (type ${f.type}) after its ${this.#terminal}`);
    if (f.type === FrameType.Alert) {
      let a: ReturnType<typeof decodeAlert>;
      try {
        a = decodeAlert(f.body);
      } catch (e) {
        throw new FuzzFailure(`an invalid Alert: ${(e as Error).message}`);
      }
      if (!a.fatal) throw new FuzzFailure(`an Alert ${a.code} without the fatal flag`);
      this.#terminal = `Alert ${a.code}`;
      this.outcomes.push(`alert ${a.code}`);
      return null;
    }
    if (!this.session) {
      if (f.type === FrameType.ServerHello && !this.#seenHello) {
        let suite: number;
        try {
          suite = decodeHello(f.body).suite;
        } catch (e) {
          throw new FuzzFailure(`an invalid ServerHello: ${(e as Error).message}`);
        }
        if (suite !== SUITE_1) throw new FuzzFailure(`the server chose suite ${suite}`);
        this.#seenHello = true;
        this.outcomes.push('ServerHello');
        return null;
      }
      if (f.type === FrameType.Sealed && this.#seenHello && !this.#seenServerAuth) {
        if (f.body.length !== SERVER_AUTH_BODY)
          throw new FuzzFailure(`a ServerAuth of ${f.body.length} bytes (not ${SERVER_AUTH_BODY})`);
        this.#seenServerAuth = true;
        this.outcomes.push('ServerAuth');
        return null;
      }
      throw new FuzzFailure(`a frame of type ${f.type} (${f.body.length} bytes) before the session`);
    }
    if (f.type !== FrameType.Sealed) throw new FuzzFailure(`a frame of type ${f.type} in the session`);
    let m: Message;
    try {
      m = decodeMessage(await this.session.open(f.body));
    } catch (e) {
      throw new FuzzFailure(`a Sealed frame from the server that does not open: ${(e as Error).message}`);
    }
    if (this.welcomeDue && m.type === MessageType.Welcome) {
      this.welcomeDue = false;
      this.outcomes.push('Welcome');
      return m;
    }
    this.welcomeDue = false;
    if (!SERVER_MESSAGES.has(m.type))
      throw new FuzzFailure(`the server sent a ${MESSAGE_NAMES[m.type] ?? m.type} message`);
    switch (m.type) {
      case MessageType.UploadReady:
      case MessageType.UploadAborted:
        if (!this.ids.has(hexOf(m.uploadId)))
          throw new FuzzFailure(`${MESSAGE_NAMES[m.type]} for an upload we never named`);
        break;
      case MessageType.UploadDone: {
        const id = hexOf(m.uploadId);
        if (!this.ids.has(id)) throw new FuzzFailure('UploadDone for an upload we never started');
        // Each UploadStart under this ID (a reused one, pipelined) adds the file it may store.
        const want = this.#unknown.has(id) ? undefined : this.expected.get(id);
        if (want && !want.some((w) => w.size === m.size && w.sha256 === hexOf(m.sha256)))
          throw new FuzzFailure(
            `UploadDone reports ${m.size} bytes, SHA-256 ${hexOf(m.sha256)}; we sent ${want.map((w) => `${w.size} bytes, ${w.sha256}`).join(' or ')}`,
          );
        break;
      }
      case MessageType.Error:
        if (m.fatal) this.#terminal = `fatal Error ${m.code}`;
        else if (isFatalCode(m.code)) throw new FuzzFailure(`a non-fatal Error with fatal code ${m.code}`);
        this.outcomes.push(`error ${m.code}`);
        return m;
      case MessageType.Bye:
        this.#terminal = 'Bye';
        break;
    }
    this.outcomes.push(MESSAGE_NAMES[m.type] ?? String(m.type));
    return m;
  }

  /** The server's key in a verified ServerAuth must be the one it had at the first handshake. */
  checkServerKey(key: Uint8Array): void {
    if (this.#ctx.serverKey.length === 0) this.#ctx.serverKey = key;
    else if (hexOf(key) !== hexOf(this.#ctx.serverKey)) throw new FuzzFailure("the server's key changed");
  }
}

/** The next frame, judged; null when closed or `ms` passed. */
async function nextJudged(link: Link, judge: Judge, ms: number): Promise<Message | null | 'frame'> {
  const f = await link.next(ms);
  if (f === null || f === 'timeout') return null;
  const m = await judge.take(f);
  return m ?? 'frame';
}

// ---------------------------------------------------------------- the handshake, with its keys

interface Established {
  /** Seals what we send under the client session key (seq from 0). */
  sealer: RecordSealer;
  binding: Uint8Array;
  welcome: Extract<Message, { type: typeof MessageType.Welcome }>;
}

function clientHello(ephemeral: Uint8Array, suite = SUITE_1): Uint8Array {
  return encodeFrame(FrameType.ClientHello, encodeHello({ suite, ephemeral }));
}

/**
 * A real handshake on `link` as the fuzz client, every server frame judged and ServerAuth
 * verified. With `auth`, our ClientAuth is mutated and sent and null is returned: the judge
 * (which then holds the session keys the server must use if it took the plaintext) judges
 * the rest. Null too when the server refused us (an Alert or a fatal Error, judged).
 */
async function handshake(
  link: Link,
  ctx: V4FuzzContext,
  judge: Judge,
  auth: AuthRecipe | null,
  ms: number,
): Promise<Established | null> {
  const eph = await generateEphemeralKey();
  const preamble = encodePreamble();
  const hello = clientHello(eph.publicRaw);
  const transcript = new Transcript();
  transcript.add(preamble);
  transcript.add(hello);
  // Two sends: through the bridge the preamble and the ClientHello are one message each.
  await link.send([preamble]);
  await link.send([hello]);

  const expectFrame = async (what: string): Promise<Frame | null> => {
    const f = await link.next(ms);
    if (f === 'timeout' && link.faithful)
      throw new FuzzFailure(`no ${what} within ${ms} ms of a real handshake`);
    if (f === null || f === 'timeout') {
      if (f === 'timeout' || link.bad || !link.faithful) return null;
      throw new FuzzFailure(`the server closed a real handshake before its ${what}`);
    }
    await judge.take(f);
    return f.type === FrameType.Alert ? null : f;
  };
  const sh = await expectFrame('ServerHello');
  if (!sh) return null;
  transcript.add(encodeFrame(sh.type, sh.body));
  const ss = await sharedSecret(eph.privateKey, decodeHello(sh.body).ephemeral);
  const th1 = await transcript.hash();
  const hk = await handshakeKeys(ss, th1);
  const sa = await expectFrame('ServerAuth');
  if (!sa) return null;
  let authPlain: Uint8Array;
  try {
    authPlain = await new RecordOpener(hk.server).open(sa.body);
  } catch {
    throw new FuzzFailure('the ServerAuth does not open under the handshake key');
  }
  const serverAuth = decodeMessage(authPlain);
  if (serverAuth.type !== MessageType.ServerAuth)
    throw new FuzzFailure('the first sealed message is not ServerAuth');
  const signed = concatBytes([SERVER_SIGNATURE_CONTEXT, th1, serverAuth.serverKey]);
  if (!(await verify(serverAuth.serverKey, serverAuth.signature, signed)))
    throw new FuzzFailure("the server's signature does not verify");
  judge.checkServerKey(serverAuth.serverKey);
  transcript.add(authPlain);
  const th2 = await transcript.hash();
  let clientAuth = encodeMessage({
    type: MessageType.ClientAuth,
    clientKey: ctx.identity.publicRaw,
    signature: await sign(
      ctx.identity.privateKey,
      concatBytes([CLIENT_SIGNATURE_CONTEXT, th2, ctx.identity.publicRaw]),
    ),
    name: ctx.name,
    invite: '',
  });
  if (auth?.target === 'plain') clientAuth = mutate(clientAuth, auth.mutations, 0);
  let frame = await new RecordSealer(hk.client).seal(clientAuth);
  if (auth?.target === 'frame') frame = mutate(frame, auth.mutations, LENGTH_OFFSET);
  transcript.add(clientAuth);
  const sk = await sessionKeys(ss, await transcript.hash());
  // The server seals with these keys if it opened our ClientAuth as sent (a frame changed
  // by its mutations cannot open: then only an Alert may come).
  judge.session = new RecordOpener(sk.server);
  judge.welcomeDue = true;
  if (auth) {
    await link.send([frame, auth.tail]);
    return null;
  }
  await link.send([frame]);
  const w = await link.next(ms);
  if (w === 'timeout' && link.faithful)
    throw new FuzzFailure(`no Welcome within ${ms} ms of a real ClientAuth`);
  if (w === null || w === 'timeout') {
    if (w === 'timeout' || link.bad || !link.faithful) return null;
    throw new FuzzFailure('the server closed after a real ClientAuth without a word');
  }
  const welcome = await judge.take(w);
  if (!welcome) return null;
  if (welcome.type !== MessageType.Welcome) {
    if (welcome.type === MessageType.Error && welcome.fatal) return null;
    throw new FuzzFailure(`a real ClientAuth answered with ${MESSAGE_NAMES[welcome.type]}`);
  }
  return { sealer: new RecordSealer(sk.client), binding: sk.binding, welcome };
}

// ---------------------------------------------------------------- building the bytes

function fileBytes(seed: number, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = ((offset + i) * 13 + seed * 7 + ((offset + i) >> 9)) & 0xff;
  return out;
}

function sha256Hex(parts: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** UploadStart's plaintext written field by field, whatever the fields hold (docs: 64 + name bytes). */
function rawUploadStart(u: {
  uploadId: Uint8Array;
  resume: boolean;
  fileKey: Uint8Array;
  size: number | bigint;
  recordSize: number;
  name: NameSpec;
}): Uint8Array {
  const name = typeof u.name.name === 'string' ? new TextEncoder().encode(u.name.name) : u.name.name;
  const out = new Uint8Array(64 + name.length);
  const v = new DataView(out.buffer);
  out[0] = MessageType.UploadStart;
  out.set(u.uploadId, 1);
  out[17] = u.resume ? 1 : 0;
  out.set(u.fileKey, 18);
  v.setBigUint64(50, BigInt(u.size), true);
  v.setUint32(58, u.recordSize >>> 0, true);
  v.setUint16(62, u.name.lengthField ?? name.length, true);
  out.set(name, 64);
  return out;
}

interface Sealed {
  sealer: RecordSealer;
  /** Frames sealed so far, for a replay. */
  last: Uint8Array | null;
}

async function seal(s: Sealed, plain: Uint8Array): Promise<Uint8Array> {
  const f = await s.sealer.seal(plain);
  s.last = f;
  return f;
}

function chunkFrame(body: Uint8Array, length = body.length): Uint8Array {
  return concatBytes([encodeFrameHeader(FrameType.Chunk, length), body]);
}

interface UploadState {
  uploadId: Uint8Array;
  /** Whether it is open on the server as far as we know. */
  open: boolean;
}

/** The records sealed for one upload from `next`, at most MAX_SENT_RECORDS, then `ops` applied. */
async function recordFrames(
  step: Extract<Step, { kind: 'upload' }>,
  up: { uploadId: Uint8Array; fileKey: Uint8Array; size: number; seed: number },
  binding: Uint8Array,
  next: number,
): Promise<{ frames: Uint8Array[]; complete: boolean }> {
  const total = recordCount(up.size);
  const upTo = Math.min(total, next + MAX_SENT_RECORDS);
  const sealer = new StreamSealer({ fileKey: up.fileKey, binding, uploadId: up.uploadId, size: up.size });
  type Rec = { body: Uint8Array; length?: number };
  let recs: Rec[] = [];
  for (let i = next; i < upTo; i++) {
    const plain = fileBytes(up.seed, i * RECORD_SIZE, recordLength(up.size, i));
    recs.push({ body: await sealer.seal(i, plain) });
  }
  const complete = upTo === total && step.ops.length === 0;
  for (const op of step.ops) {
    const n = recs.length;
    if (n === 0) break;
    switch (op.kind) {
      case 'swap':
      case 'drop':
      case 'dup':
      case 'cut':
        recs = applySequenceOp(recs, op);
        break;
      case 'flip': {
        const r = recs[op.i % n]!;
        if (r.body.length === 0) break;
        const body = r.body.slice();
        body[op.at % body.length]! ^= 1 << op.bit;
        recs[op.i % n] = { ...r, body };
        break;
      }
      case 'truncate': {
        const r = recs[op.i % n]!;
        recs[op.i % n] = { ...r, body: r.body.subarray(0, op.at % (r.body.length + 1)) };
        break;
      }
      case 'extend': {
        const r = recs[op.i % n]!;
        recs[op.i % n] = { ...r, body: concatBytes([r.body, new Uint8Array(op.bytes).fill(0xa5)]) };
        break;
      }
      case 'foreign': {
        const i = op.i % n;
        const index = next + i;
        const other = new StreamSealer({
          fileKey: op.from === 'upload' ? randomBytes(32) : up.fileKey,
          binding: op.from === 'session' ? randomBytes(32) : binding,
          uploadId: op.from === 'upload' ? randomBytes(16) : up.uploadId,
          size: up.size,
        });
        if (index < total)
          recs[i] = {
            body: await other.seal(
              index,
              fileBytes(up.seed, index * RECORD_SIZE, recordLength(up.size, index)),
            ),
          };
        break;
      }
      case 'length': {
        const r = recs[op.i % n]!;
        recs[op.i % n] = { ...r, length: op.length };
        break;
      }
    }
  }
  return { frames: recs.map((r) => chunkFrame(r.body, r.length)), complete };
}

// ---------------------------------------------------------------- running a case

export interface V4CaseResult {
  /** What the server answered, in order: 'ServerHello', 'UploadDone', 'error 13', 'alert 1', 'v3 1607' ... */
  outcomes: string[];
  /** The WebSocket's close code (bridge), else -1. */
  closeCode: number;
}

/** Bytes and mode of a pre-handshake case: v3 when what we send does not start with the preamble. */
async function preBytes(r: PreRecipe): Promise<{ mode: Mode; units: Uint8Array[] }> {
  const preamble = encodePreamble();
  const hello = async () => clientHello((await generateEphemeralKey()).publicRaw);
  switch (r.kind) {
    case 'random':
      return { mode: 'v4', units: [preamble, r.bytes] };
    case 'header': {
      const head = encodeFrameHeader(FrameType.Alert, r.length === 'exact' ? r.body.length : r.length);
      head[1] = r.type;
      return {
        mode: 'v4',
        units: [preamble, ...(r.hello ? [await hello()] : []), concatBytes([head, r.body])],
      };
    }
    case 'hello': {
      let key: Uint8Array;
      if (r.ephemeral === 'real') key = (await generateEphemeralKey()).publicRaw;
      else if (r.ephemeral === 'random') key = randomBytes(32);
      else key = new Uint8Array(32);
      if (r.ephemeral === 'one') key[0] = 1;
      let frame = clientHello(key, r.suite);
      if (r.mutations) frame = mutate(frame, r.mutations, LENGTH_OFFSET);
      return { mode: 'v4', units: [preamble, frame, r.tail] };
    }
    case 'preamble': {
      const p = mutate(preamble, r.mutations, 19);
      const v4 = p.length === PREAMBLE_SIZE && isPreamble(p);
      return { mode: v4 ? 'v4' : 'v3', units: [p, ...(r.hello ? [await hello()] : [])] };
    }
  }
}

async function playSession(
  link: Link,
  ctx: V4FuzzContext,
  judge: Judge,
  steps: Step[],
  ms: number,
): Promise<void> {
  const est = await handshake(link, ctx, judge, null, ms);
  if (!est) return;
  const s: Sealed = { sealer: est.sealer, last: null };
  const started: UploadState[] = [];
  let current: UploadState | null = null;
  // While every answer so far came as a real client expects, a step may wait for its answer;
  // after a pipelined or hostile step the server may be mid-frame or closing: no more waits.
  let synced = true;
  const answerMs = Math.min(ms, 5000);
  for (const step of steps) {
    if (link.closed || link.bad) return;
    if (step.kind !== 'upload' && step.kind !== 'abort') synced = false;
    switch (step.kind) {
      case 'upload': {
        const kept = ctx.kept.length > 0 ? ctx.kept[step.seed % ctx.kept.length]! : null;
        const previous = started.length > 0 ? started[step.seed % started.length]! : null;
        let uploadId: Uint8Array = randomBytes(16);
        let fileKey: Uint8Array = randomBytes(32);
        let size = step.size;
        let name = step.name;
        let seed = step.seed;
        if (step.id === 'random')
          uploadId = Uint8Array.from({ length: 16 }, (_, i) => (step.seed * 31 + i * 7) & 0xff);
        else if (step.id === 'previous' && previous) uploadId = previous.uploadId;
        else if (step.id === 'kept' && kept) {
          uploadId = kept.uploadId;
          seed = kept.seed;
          fileKey = step.mismatch === 'key' ? randomBytes(32) : kept.fileKey;
          size = step.mismatch === 'size' ? kept.size + 1 : kept.size;
          name =
            step.mismatch === 'name'
              ? { name: `${kept.name}.other`, lengthField: null }
              : { name: kept.name, lengthField: null };
        }
        const id = hexOf(uploadId);
        judge.ids.add(id);
        // A stream exists only for a size the format allows; past it, Chunks are random bytes.
        const numeric =
          typeof size === 'number' && size <= MAX_U64 && size / RECORD_SIZE <= 2 ** 32 ? size : null;
        const whole = numeric !== null && recordCount(numeric) <= MAX_SENT_RECORDS;
        // Whatever the ops did to the records, the only file the server may store is this one.
        if (whole && step.recordSize === RECORD_SIZE) {
          const parts: Uint8Array[] = [];
          for (let i = 0; i < recordCount(numeric); i++)
            parts.push(fileBytes(seed, i * RECORD_SIZE, recordLength(numeric, i)));
          judge.expect(id, { size: numeric, sha256: sha256Hex(parts) });
        } else judge.expect(id, null);
        const up: UploadState = { uploadId, open: false };
        started.push(up);
        await link.send([
          await seal(
            s,
            rawUploadStart({
              uploadId,
              // Mostly off for a new ID, mostly on for a kept one (the same odds, turned round).
              resume: step.id === 'kept' ? !step.resume : step.resume,
              fileKey,
              size,
              recordSize: step.recordSize,
              name,
            }),
          ),
        ]);
        let next = 0;
        const wait: boolean = step.wait && synced;
        synced = wait;
        if (wait) {
          const a = await nextJudged(link, judge, answerMs);
          if (a === null || a === 'frame' || a.type !== MessageType.UploadReady) {
            synced = a !== null && a !== 'frame' && a.type === MessageType.Error && !a.fatal;
            break;
          }
          next = a.nextRecord;
        }
        up.open = true;
        current = up;
        let frames: Uint8Array[];
        let complete = false;
        if (numeric !== null && next < recordCount(numeric)) {
          ({ frames, complete } = await recordFrames(
            step,
            { uploadId, fileKey, size: numeric, seed },
            est.binding,
            next,
          ));
          if (
            !complete &&
            next + MAX_SENT_RECORDS < recordCount(numeric) &&
            step.ops.length === 0 &&
            typeof name.name === 'string'
          ) {
            ctx.kept.push({ uploadId, fileKey, size: numeric, name: name.name, seed });
            if (ctx.kept.length > KEPT_LIMIT) ctx.kept.shift();
          }
        } else frames = [chunkFrame(randomBytes(TAG_SIZE + (seed % 64)))];
        await link.send(frames);
        if (wait && (complete || step.ops.length > 0)) {
          // As a real client: the answer to the last record (UploadDone, or Error 13 for a bad
          // one); after ops that cut the stream none may come.
          const a = await nextJudged(link, judge, complete ? answerMs : 1000);
          const over =
            a !== null &&
            a !== 'frame' &&
            (a.type === MessageType.UploadDone || a.type === MessageType.Error);
          if (over) up.open = false;
          synced = over && !(a.type === MessageType.Error && a.fatal);
        } else if (!complete) synced = false;
        break;
      }
      case 'abort': {
        let uploadId: Uint8Array;
        if (step.id === 'current' && current) uploadId = current.uploadId;
        else if (step.id === 'kept' && ctx.kept.length > 0)
          uploadId = ctx.kept[ctx.kept.length - 1]!.uploadId;
        else uploadId = randomBytes(16);
        judge.ids.add(hexOf(uploadId));
        await link.send([await seal(s, encodeMessage({ type: MessageType.UploadAbort, uploadId }))]);
        if (current && hexOf(current.uploadId) === hexOf(uploadId)) current.open = false;
        if (synced) {
          const a = await nextJudged(link, judge, answerMs);
          synced = a !== null && a !== 'frame' && a.type === MessageType.UploadAborted;
        }
        break;
      }
      case 'bye':
        await link.send([await seal(s, encodeMessage({ type: MessageType.Bye }))]);
        break;
      case 'message':
        await link.send([await seal(s, step.bytes)]);
        break;
      case 'bad-seal': {
        const bye = encodeMessage({ type: MessageType.Bye });
        if (step.how === 'tag') {
          const f = (await s.sealer.seal(bye)).slice();
          const at = 6 + (step.at % (f.length - 6));
          f[at]! ^= 1 << step.bit;
          await link.send([f]);
        } else if (step.how === 'skip') {
          await s.sealer.seal(bye);
          await link.send([await seal(s, bye)]);
        } else if (step.how === 'replay') {
          const again = s.last ?? (await seal(s, bye));
          await link.send([again, again]);
        } else {
          await link.send([encodeFrame(FrameType.Sealed, randomBytes(17 + (step.at % 200)))]);
        }
        break;
      }
      case 'frame': {
        const head = encodeFrameHeader(
          FrameType.Alert,
          step.length === 'exact' ? step.body.length : step.length,
        );
        head[1] = step.type;
        await link.send([concatBytes([head, step.body])]);
        break;
      }
      case 'chunk':
        await link.send([chunkFrame(randomBytes(step.length))]);
        break;
    }
  }
}

async function playCase(
  open: (mode: Mode) => Promise<Link & { rest(): Frame[] }>,
  ctx: V4FuzzContext,
  c: V4Case,
  ms: number,
): Promise<V4CaseResult> {
  const judge = new Judge(ctx);
  let link: (Link & { rest(): Frame[] }) | null = null;
  try {
    if (c.kind === 'pre') {
      const { mode, units } = await preBytes(c.pre);
      link = await open(mode);
      for (const u of units) await link.send([u]);
    } else {
      link = await open('v4');
      if (c.kind === 'auth') await handshake(link, ctx, judge, c.auth, ms);
      else await playSession(link, ctx, judge, c.steps, ms);
    }
    await link.finish(ms);
    if (link.bad)
      throw new FuzzFailure(`the server sent an invalid response: ${(link.bad as Error).message}`);
    for (const f of link.rest()) await judge.take(f);
    return {
      outcomes: [...judge.outcomes, ...link.v3Codes.map((code) => `v3 ${code}`)],
      closeCode: link.closeCode,
    };
  } finally {
    link?.destroy();
  }
}

/** One case over TCP against the server at `port`. Throws FuzzFailure when the server misbehaves. */
export function runV4TcpCase(
  port: number,
  ctx: V4FuzzContext,
  c: V4TcpCase,
  closeTimeoutMs = 15_000,
): Promise<V4CaseResult> {
  return playCase((mode) => TcpLink.open(port, c.delivery, mode), ctx, c.c, closeTimeoutMs);
}

/** One case through the bridge at `url`. Throws FuzzFailure when the bridge or the server misbehaves. */
export function runV4BridgeCase(
  url: string,
  ctx: V4FuzzContext,
  c: V4BridgeCase,
  closeTimeoutMs = 15_000,
): Promise<V4CaseResult> {
  return playCase((mode) => WsLink.open(url, c.delivery, mode), ctx, c.c, closeTimeoutMs);
}

/** Counts a case's outcomes into `stats` (frame-fuzz.ts's FuzzStats). */
export function countV4(stats: FuzzStats, r: V4CaseResult): void {
  stats.cases++;
  const bump = (k: string) => stats.outcomes.set(k, (stats.outcomes.get(k) ?? 0) + 1);
  if (r.outcomes.length === 0) bump('none');
  for (const o of r.outcomes) bump(o);
  if (r.closeCode >= 0) bump(`close ${r.closeCode}`);
}
