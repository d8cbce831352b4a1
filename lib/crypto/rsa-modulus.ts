/**
 * Sanity checks of a received RSA modulus (BigInt, runtime-neutral). An RSA modulus is the
 * product of two large primes; a prime modulus, or one with a small factor, makes the
 * "private" key computable by anyone (a prime p: phi = p - 1), so a key wrapped under it is
 * readable by whoever sees the 1602/1605. These checks do not prove the modulus is a
 * product of two large primes (nothing cheap can); they refuse what is cheap to spot.
 */

/** Trial division bound: every prime below this divides no valid modulus. */
export const SMALL_PRIME_BOUND = 2000;

/**
 * Miller-Rabin bases. A prime passes every base; a random RSA modulus fails the first
 * one almost surely, so a real key costs one modular exponentiation (a few ms in BigInt)
 * and only a prime pays for both.
 */
const MILLER_RABIN_BASES = [2n, 3n] as const;

function primesBelow(limit: number): bigint[] {
  const composite = new Uint8Array(limit);
  const primes: bigint[] = [];
  for (let i = 2; i < limit; i++) {
    if (composite[i]) continue;
    primes.push(BigInt(i));
    for (let j = i * i; j < limit; j += i) composite[j] = 1;
  }
  return primes;
}

const SMALL_PRIMES = primesBelow(SMALL_PRIME_BOUND);

/** base^exp mod m, left to right with a 4-bit window (about 1,024 squarings for 1,024 bits). */
function modPow(base: bigint, exp: bigint, m: bigint): bigint {
  const table = [1n];
  for (let i = 1; i < 16; i++) table.push((table[i - 1]! * base) % m);
  let r = 1n;
  for (const digit of exp.toString(16)) {
    r = (r * r) % m;
    r = (r * r) % m;
    r = (r * r) % m;
    r = (r * r) % m;
    const d = Number.parseInt(digit, 16);
    if (d !== 0) r = (r * table[d]!) % m;
  }
  return r;
}

/** Miller-Rabin for odd n > the largest base: false means certainly composite. */
export function isProbablePrime(n: bigint): boolean {
  let d = n - 1n;
  let s = 0;
  while ((d & 1n) === 0n) {
    d >>= 1n;
    s++;
  }
  for (const a of MILLER_RABIN_BASES) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    let witness = true;
    for (let i = 1; i < s && witness; i++) {
      x = (x * x) % n;
      if (x === n - 1n) witness = false;
    }
    if (witness) return false;
  }
  return true;
}

/**
 * Recent verdicts by modulus: a server checks the same stored key again on every 1027, and a
 * peer may send the same bad key again and again; each check costs a modular exponentiation.
 */
const MEMO_SIZE = 1024;
const memo = new Map<bigint, string | undefined>();

function findDefect(n: bigint): string | undefined {
  for (const p of SMALL_PRIMES) {
    if (n % p === 0n) return `modulus is divisible by ${p}`;
  }
  if (isProbablePrime(n)) return 'modulus is prime';
  return undefined;
}

/** Why `n` cannot be an RSA modulus (a small factor, or probably prime), or undefined if none found. */
export function modulusDefect(n: bigint): string | undefined {
  if (memo.has(n)) return memo.get(n);
  const defect = findDefect(n);
  // Oldest first out: a Map iterates in insertion order.
  if (memo.size >= MEMO_SIZE) memo.delete(memo.keys().next().value!);
  memo.set(n, defect);
  return defect;
}
