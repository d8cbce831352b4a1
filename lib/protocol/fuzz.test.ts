import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  arbChunkSizes,
  arbMutations,
  arbRequest,
  arbResponse,
  chunkBy,
  concatBytes,
  mutate,
} from '../../test/support/arbitraries';
import { decodeRequests } from '../../test/support/request-frames';
import { PROTOCOL_VERSION, REQUEST_HEADER_SIZE, RESPONSE_HEADER_SIZE } from './constants';
import { ProtocolError } from './errors';
import { encodeRequestHeader, encodeResponseHeader } from './headers';
import { RequestDecoder } from './request-decoder';
import { encodeRequest, type Request } from './requests';
import { ResponseFrameDecoder } from './response-decoder';
import { decodeResponse, encodeResponse, type Response } from './responses';

// Seeded so a failure reproduces; fast-check prints the counterexample and the seed.
const SEED = 20261126;

/** Feeds chunks through a request decoder and decodes every frame; returns what came out. */
function runRequests(chunks: readonly Uint8Array[], maxPayload?: number): Request[] {
  return decodeRequests(new RequestDecoder(maxPayload === undefined ? {} : { maxPayload }), chunks);
}

function runResponses(chunks: readonly Uint8Array[], maxPayload?: number): Response[] {
  const decoder = new ResponseFrameDecoder(maxPayload === undefined ? {} : { maxPayload });
  const out: Response[] = [];
  for (const chunk of chunks) {
    for (const f of decoder.push(chunk)) out.push(decodeResponse(f.header, f.payload));
  }
  return out;
}

/** Runs fn; a ProtocolError is an accepted outcome, anything else is rethrown (fails the property). */
function onlyProtocolErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    expect(err.code).toMatch(/^PROTO_ERR_/);
  }
}

const arbMaxPayload = fc.constantFrom(undefined, 0, 255, 300, 4096);

/** A header that passes version/code checks often enough to reach the payload decoders. */
const arbRequestHeaderish = fc
  .record({
    clientId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    version: fc.oneof(fc.constant(PROTOCOL_VERSION), fc.integer({ min: 0, max: 255 })),
    code: fc.oneof(fc.integer({ min: 1025, max: 1031 }), fc.integer({ min: 0, max: 0xffff })),
    payloadSize: fc.oneof(fc.constantFrom(0, 255, 266, 267, 268, 415), fc.integer({ min: 0, max: 700 })),
  })
  .map((h) => encodeRequestHeader(h));

const arbResponseHeaderish = fc
  .record({
    version: fc.oneof(fc.constant(PROTOCOL_VERSION), fc.integer({ min: 0, max: 255 })),
    code: fc.oneof(fc.integer({ min: 1600, max: 1607 }), fc.integer({ min: 0, max: 0xffff })),
    payloadSize: fc.oneof(fc.constantFrom(0, 16, 17, 144, 278, 279, 280), fc.integer({ min: 0, max: 400 })),
  })
  .map((h) => encodeResponseHeader(h));

describe('fuzz: random bytes throw only ProtocolError', () => {
  test('requests: random bytes, random chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), arbChunkSizes, arbMaxPayload, (bytes, sizes, max) => {
        onlyProtocolErrors(() => runRequests(chunkBy(bytes, sizes), max));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('requests: plausible headers followed by random payload bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbRequestHeaderish, fc.uint8Array({ maxLength: 700 })), {
          minLength: 1,
          maxLength: 4,
        }),
        arbChunkSizes,
        (parts, sizes) => {
          const bytes = concatBytes(parts.flat());
          onlyProtocolErrors(() => runRequests(chunkBy(bytes, sizes)));
        },
      ),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('responses: random bytes, random chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), arbChunkSizes, arbMaxPayload, (bytes, sizes, max) => {
        onlyProtocolErrors(() => runResponses(chunkBy(bytes, sizes), max));
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('responses: plausible headers followed by random payload bytes', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbResponseHeaderish, fc.uint8Array({ maxLength: 400 })), {
          minLength: 1,
          maxLength: 4,
        }),
        arbChunkSizes,
        (parts, sizes) => {
          const bytes = concatBytes(parts.flat());
          onlyProtocolErrors(() => runResponses(chunkBy(bytes, sizes)));
        },
      ),
      { numRuns: 1000, seed: SEED },
    );
  });
});

describe('fuzz: mutated valid frames throw only ProtocolError', () => {
  test('requests: bit flips, truncation, size rewrites up to 0xFFFFFFFF', () => {
    fc.assert(
      fc.property(
        fc.array(arbRequest(300), { minLength: 1, maxLength: 3 }),
        fc.nat(2),
        arbMutations,
        arbChunkSizes,
        arbMaxPayload,
        (reqs, which, mutations, sizes, max) => {
          const frames = reqs.map(encodeRequest);
          const i = which % frames.length;
          frames[i] = mutate(frames[i]!, mutations, REQUEST_HEADER_SIZE - 4);
          onlyProtocolErrors(() => runRequests(chunkBy(concatBytes(frames), sizes), max));
        },
      ),
      { numRuns: 1500, seed: SEED },
    );
  });

  test('responses: bit flips, truncation, size rewrites up to 0xFFFFFFFF', () => {
    fc.assert(
      fc.property(
        fc.array(arbResponse, { minLength: 1, maxLength: 3 }),
        fc.nat(2),
        arbMutations,
        arbChunkSizes,
        arbMaxPayload,
        (resps, which, mutations, sizes, max) => {
          const frames = resps.map(encodeResponse);
          const i = which % frames.length;
          frames[i] = mutate(frames[i]!, mutations, RESPONSE_HEADER_SIZE - 4);
          onlyProtocolErrors(() => runResponses(chunkBy(concatBytes(frames), sizes), max));
        },
      ),
      { numRuns: 1500, seed: SEED },
    );
  });

  test('a decoder that threw stays dead, with the same error', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 23, maxLength: 200 }),
        fc.uint8Array({ maxLength: 50 }),
        (bad, more) => {
          const d = new ResponseFrameDecoder({ maxPayload: 0 });
          let first: unknown;
          try {
            d.push(bad);
          } catch (err) {
            first = err;
          }
          // maxPayload 0: any header declaring a payload kills it.
          fc.pre(first !== undefined);
          expect(first).toBeInstanceOf(ProtocolError);
          expect(() => d.push(more)).toThrow(first as Error);
        },
      ),
      { numRuns: 300, seed: SEED },
    );
  });
});

describe('fuzz: valid frames round-trip through encode and the frame decoders', () => {
  test('requests', () => {
    fc.assert(
      fc.property(fc.array(arbRequest(600), { minLength: 1, maxLength: 5 }), arbChunkSizes, (reqs, sizes) => {
        const decoder = new RequestDecoder();
        const out = decodeRequests(decoder, chunkBy(concatBytes(reqs.map(encodeRequest)), sizes));
        expect(out).toEqual(reqs);
        expect(decoder.idle).toBe(true);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });

  test('responses', () => {
    fc.assert(
      fc.property(fc.array(arbResponse, { minLength: 1, maxLength: 5 }), arbChunkSizes, (resps, sizes) => {
        const decoder = new ResponseFrameDecoder();
        const out: Response[] = [];
        for (const chunk of chunkBy(concatBytes(resps.map(encodeResponse)), sizes)) {
          for (const f of decoder.push(chunk)) out.push(decodeResponse(f.header, f.payload));
        }
        expect(out).toEqual(resps);
        expect(decoder.idle).toBe(true);
      }),
      { numRuns: 1000, seed: SEED },
    );
  });
});
