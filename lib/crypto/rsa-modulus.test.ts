import { checkPrimeSync, generateKeyPairSync, generatePrimeSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  badModuli,
  MODULUS_AT,
  modulusOf,
  realSpki,
  spkiWithModulus,
  timesPrime,
} from '../../test/support/bad-rsa-keys';
import { generateRsaKeyPair, validatePublicKeySpki } from './rsa';
import { isProbablePrime, modulusDefect, SMALL_PRIME_BOUND } from './rsa-modulus';

const REAL = realSpki();

const badKey = expect.objectContaining({ code: 'CRYPTO_ERR_BAD_PUBLIC_KEY' });

describe('received RSA moduli', () => {
  it('the layout the tests rely on: 160 bytes, modulus INTEGER at 25', () => {
    expect(REAL.length).toBe(160);
    expect([...REAL.subarray(25, MODULUS_AT)]).toEqual([0x02, 0x81, 0x81, 0x00]);
    expect(spkiWithModulus(REAL, modulusOf(REAL))).toEqual(REAL);
  });

  const real = modulusOf(REAL);
  for (const { what, n, reason } of badModuli(REAL)) {
    it(`rejects ${what} as a bad public key`, () => {
      expect(n.toString(2)).toHaveLength(1024);
      expect(() => validatePublicKeySpki(spkiWithModulus(REAL, n))).toThrow(badKey);
      expect(modulusDefect(n)).toMatch(reason);
    });
  }

  it('accepts real RSA-1024 keys: Node (e=17) and WebCrypto (e=3), 20 of each; prints the cost of a check', async () => {
    const ms: number[] = [];
    for (let i = 0; i < 20; i++) {
      const node = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 17 });
      const spki = new Uint8Array(node.publicKey.export({ type: 'spki', format: 'der' }));
      const t0 = performance.now();
      expect(validatePublicKeySpki(spki).modulusBits).toBe(1024);
      ms.push(performance.now() - t0);
      // generateRsaKeyPair validates its own key, so this throws if the check refused it.
      await generateRsaKeyPair(globalThis.crypto.subtle);
    }
    ms.sort((a, b) => a - b);
    console.log(
      `validatePublicKeySpki of a real key: median ${ms[10]!.toFixed(2)} ms, max ${ms[19]!.toFixed(2)} ms`,
    );
  });

  it('a modulus checked before is not checked again (a stored key on every 1027, a bad key sent again)', () => {
    const n = modulusOf(realSpki());
    const t0 = performance.now();
    expect(modulusDefect(n)).toBeUndefined();
    const first = performance.now() - t0;
    const t1 = performance.now();
    for (let i = 0; i < 1000; i++) expect(modulusDefect(n)).toBeUndefined();
    const again = (performance.now() - t1) / 1000;
    console.log(`modulus check: first ${first.toFixed(2)} ms, again ${(again * 1000).toFixed(1)} µs`);
    expect(again).toBeLessThan(first);
  });

  it(`isProbablePrime agrees with a sieve for every odd n in 5..100,000 and with OpenSSL on 1024-bit numbers`, () => {
    const limit = 100_000;
    const composite = new Uint8Array(limit);
    for (let i = 2; i * i < limit; i++)
      if (!composite[i]) for (let j = i * i; j < limit; j += i) composite[j] = 1;
    for (let n = 5; n < limit; n += 2) {
      if (isProbablePrime(BigInt(n)) !== !composite[n]) throw new Error(`isProbablePrime(${n}) is wrong`);
    }
    for (let i = 0; i < 3; i++) {
      const p = generatePrimeSync(1024, { bigint: true });
      expect(isProbablePrime(p)).toBe(true);
      // p * small prime: composite; and the real modulus.
      expect(isProbablePrime(p * 2003n)).toBe(false);
    }
    expect(isProbablePrime(real)).toBe(false);
    expect(checkPrimeSync((1n << 1024n) - 105n)).toBe(true);
  });

  it(`a factor just above the bound (${SMALL_PRIME_BOUND}) is not looked for: 2003 x a prime passes (documented)`, () => {
    expect(modulusDefect(timesPrime(2003n))).toBeUndefined();
  });
});
