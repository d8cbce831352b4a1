/**
 * Public key fields whose modulus cannot be an RSA modulus (issue 14, item 10), built from a
 * real 160-byte RSA-1024 SPKI by replacing its modulus: the DER stays well formed, so only
 * the modulus check can refuse them.
 */
import { generateKeyPairSync, generatePrimeSync } from 'node:crypto';

/** A real RSA-1024 key (e=17, like Crypto++'s) as a 160-byte SPKI. */
export function realSpki(): Uint8Array {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 17 });
  return new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
}

/** In a 160-byte SPKI the modulus INTEGER is `02 81 81 00` + 128 bytes from offset 25. */
export const MODULUS_AT = 29;

export function modulusOf(spki: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(spki.subarray(MODULUS_AT, MODULUS_AT + 128)).toString('hex')}`);
}

/** `spki` with its modulus replaced by `n` (1024 bits, so the DER stays the same). */
export function spkiWithModulus(spki: Uint8Array, n: bigint): Uint8Array {
  const out = spki.slice();
  out.set(Buffer.from(n.toString(16).padStart(256, '0'), 'hex'), MODULUS_AT);
  return out;
}

/** The smallest m >= n with m % p === 0 and m odd (p odd). */
function oddMultipleAtLeast(n: bigint, p: bigint): bigint {
  let m = n + ((p - (n % p)) % p);
  if (m % 2n === 0n) m += p;
  return m;
}

/** small x a random prime, 1,024 bits: its only small factor is `small`. */
export function timesPrime(small: bigint): bigint {
  const bits = 1024 - small.toString(2).length;
  for (let i = 0; i < 50; i++) {
    const n = small * generatePrimeSync(bits + (i % 2), { bigint: true });
    if (n.toString(2).length === 1024) return n;
  }
  throw new Error('no 1024-bit product found');
}

export interface BadModulus {
  what: string;
  n: bigint;
  /** What the refusal's message names. */
  reason: RegExp;
}

/** The moduli of issue 14 (all accepted before the check), each 1,024 bits. */
export function badModuli(real: Uint8Array): BadModulus[] {
  const n = modulusOf(real);
  return [
    { what: 'a prime: 2^1024 - 105', n: (1n << 1024n) - 105n, reason: /modulus is prime/ },
    {
      what: 'a generated 1024-bit prime',
      n: generatePrimeSync(1024, { bigint: true }),
      reason: /modulus is prime/,
    },
    {
      what: 'divisible by 3 (a real modulus moved to an odd multiple of 3)',
      n: oddMultipleAtLeast(n, 3n),
      reason: /by 3\b/,
    },
    { what: '2^1023 + 1 (divisible by 3)', n: (1n << 1023n) + 1n, reason: /by 3\b/ },
    { what: 'even (a real modulus + 1)', n: n + 1n, reason: /by 2\b/ },
    {
      what: 'divisible by 1999, the largest prime under the bound',
      n: timesPrime(1999n),
      reason: /by 1999\b/,
    },
  ];
}
