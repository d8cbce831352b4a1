/**
 * The value checks every program's options table shares: each takes the text of a flag or
 * environment variable and the name it came under (`--port`, `SFT_PORT`), and returns the
 * value or throws an OptionError whose sentence names that flag and what would be accepted.
 */

import { parseCidr } from './address-match';

/** Stable codes of a bad command line or environment value. */
export type OptionErrorCode =
  /** A value that does not pass its option's check. */
  | 'OPTION_ERR_INVALID'
  /** An unknown option, a missing value, a value where none belongs, a stray argument. */
  | 'OPTION_ERR_USAGE';

export class OptionError extends Error {
  override readonly name = 'OptionError';
  constructor(
    readonly code: OptionErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Turns a flag's (or environment variable's) text into its value; throws OptionError. */
export type Validator<T> = (text: string, what: string) => T;

function invalid(message: string): OptionError {
  return new OptionError('OPTION_ERR_INVALID', message);
}

/** Any non-empty text (a folder, a file, a name). */
export const text: Validator<string> = (t, what) => {
  if (t === '') throw invalid(`${what} is empty; give a value.`);
  return t;
};

/** The word every limit that can be turned off takes (orOff); the others refuse it by name. */
const OFF = /^off$/i;

/**
 * A limit that can be turned off: `off` (any case) or 0 gives `offValue`, anything else must
 * pass `check` (which must accept 0), and its refusal says that 0 and off are taken too.
 * One rule for the whole family: --disk-reserve and --min-upload-rate always took 0 for none,
 * while --max-total-bytes refused both 0 and any other way to say "no limit", so a limit set
 * in the environment could not be lifted by a flag.
 */
export function orOff<T, O>(check: Validator<T>, offValue: O): Validator<T | O> {
  return (t, what) => {
    if (OFF.test(t.trim())) return offValue;
    let v: T;
    try {
      v = check(t, what);
    } catch (e) {
      if (e instanceof OptionError) throw invalid(`${e.message.replace(/\.$/, '')}; 0 or off turns it off.`);
      throw e;
    }
    return v === 0 ? offValue : v;
  };
}

/** The sentence for `off` given to a limit that cannot be turned off. */
function notOff(what: string, range: string): OptionError {
  return invalid(`${what} cannot be turned off; give ${range}.`);
}

/** A whole number in min..max (digits only, an optional minus sign). */
export function integer(min = 0, max = Number.MAX_SAFE_INTEGER): Validator<number> {
  const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `${min}..${max}`;
  return (t, what) => {
    const s = t.trim();
    if (OFF.test(s)) throw notOff(what, `a whole number ${range}`);
    if (!/^-?\d+$/.test(s)) throw invalid(`${what} "${t}" is not a whole number.`);
    const n = Number(s);
    if (n < min || n > max) throw invalid(`${what} ${n} is out of range (${range}).`);
    return n;
  };
}

/** A whole number of at least 1. */
export const positiveInteger: Validator<number> = integer(1);

/** A TCP port; 0 (any free port) unless `min` says otherwise. */
export function port(min = 0): Validator<number> {
  const check = integer(min, 65535);
  return (t, what) => {
    try {
      return check(t, what);
    } catch {
      throw invalid(`${what} "${t}" is not a port number (${min}..65535).`);
    }
  };
}

/** A host name or IP address (letters, digits, dots, colons, dashes, underscores). */
export const host: Validator<string> = (t, what) => {
  if (!/^[A-Za-z0-9.:_-]+$/.test(t)) throw invalid(`${what} "${t}" is not a host name or address.`);
  return t;
};

export interface HostPort {
  host: string;
  port: number;
}

/**
 * HOST:PORT, IPv6 as [address]:PORT. Without `defaultPort` the port is required; a bare
 * IPv6 address with a port ("::1:80") is refused as ambiguous.
 */
export function hostPort(opts: { defaultPort?: number; minPort?: number } = {}): Validator<HostPort> {
  const minPort = opts.minPort ?? 0;
  return (t, what) => {
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(t.trim());
    const portText = m?.[3];
    const p = portText === undefined ? opts.defaultPort : Number(portText);
    if (!m || p === undefined || p < minPort || p > 65535) {
      const portHint = opts.defaultPort === undefined ? '' : ` (PORT defaults to ${opts.defaultPort})`;
      throw invalid(
        `${what} must be HOST:PORT like 127.0.0.1:8080 (IPv6 as [address]:PORT, port ${minPort}..65535)${portHint}, got "${t}".`,
      );
    }
    return { host: (m[1] ?? m[2])!, port: p };
  };
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** "1048576", "64K", "16MiB", "4G" (binary units) in min..max bytes. */
export function size(min: number, max: number): Validator<number> {
  return (t, what) => parseSize(t, what, min, max);
}

export function parseSize(t: string, what: string, min: number, max: number): number {
  if (OFF.test(t.trim())) throw notOff(what, `a size in ${min}..${max} bytes`);
  const m = /^(\d+)\s*([kmgt]?)(?:i?b)?$/i.exec(t.trim());
  if (!m) throw invalid(`${what} "${t}" is not a size such as 1048576, 64K, 16M or 2G.`);
  const n = Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]!;
  if (n < min || n > max) throw invalid(`${what} ${n} is out of range ${min}..${max} bytes.`);
  return n;
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  '': 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * A duration above 0 and at most `maxSeconds`, in milliseconds: a number of seconds
 * ("1.5"), or with a unit ("500ms", "30s", "5m", "1h", "7d").
 */
export function duration(maxSeconds = 86_400): Validator<number> {
  return (t, what) => {
    const m = /^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m|h|d)?$/i.exec(t.trim());
    const ms = m ? Math.round(Number(m[1]) * DURATION_UNITS[(m[2] ?? '').toLowerCase()]!) : Number.NaN;
    if (!(ms > 0 && ms <= maxSeconds * 1000)) {
      throw invalid(
        `${what} "${t}" is not a duration above 0 and up to ${maxSeconds} seconds (like 30, 1.5, 500ms or 5m).`,
      );
    }
    return ms;
  };
}

/** A page origin (scheme://host[:port], the form browsers send) or '*' for any. */
export const origin: Validator<string> = (t, what) => {
  if (t === '*') return t;
  try {
    const url = new URL(t);
    if (url.origin !== 'null') return url.origin;
  } catch {
    // refused below
  }
  throw invalid(`${what} must be a URL like https://files.example.org, got "${t}".`);
};

/** A URL with one of `protocols` (e.g. ['ws:', 'wss:']). */
export function url(protocols: readonly string[]): Validator<URL> {
  return (t, what) => {
    try {
      const u = new URL(t);
      if (protocols.includes(u.protocol)) return u;
    } catch {
      // refused below
    }
    throw invalid(`${what} "${t}" is not a ${protocols.map((p) => `${p}//`).join(' or ')} URL.`);
  };
}

/** One of a fixed set of words. */
export function oneOf<const T extends string>(choices: readonly T[]): Validator<T> {
  return (t, what) => {
    if ((choices as readonly string[]).includes(t)) return t as T;
    throw invalid(`${what} "${t}" is not one of ${choices.join(', ')}.`);
  };
}

/** An address or CIDR block ("127.0.0.0/8", "::1", "2001:db8::/32"), kept as the text given. */
export const cidr: Validator<string> = (t, what) => {
  const s = t.trim();
  try {
    parseCidr(s);
  } catch {
    throw invalid(`${what} "${t}" is not an address or CIDR block such as 127.0.0.0/8 or ::1/128.`);
  }
  return s;
};
