/**
 * Per-source caps on what is held at once: connections, or bytes of memory. KeyedBudget counts
 * an amount per key and in total and refuses a reservation that would pass either cap; memory
 * is bounded because a key is forgotten when its count returns to 0. ConnectionLimiter adds a
 * second, lower tier for connections that have not completed a key exchange, after sshd's
 * MaxStartups (total, with random early drop) and PerSourceMaxStartups, so that idle sockets
 * without a login cannot take the slots that logged-in clients need.
 */

import { LimitError } from './limit-error';

function checkCap(name: string, value: number): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new LimitError('LIMIT_BAD_OPTION', `${name} must be a number >= 0, not ${value}`);
  }
  return value;
}

export interface KeyedBudgetOptions {
  /** Most one key may hold. */
  perKey: number;
  /** Most all keys together may hold. */
  total: number;
}

export type BudgetRefusal = 'per-key' | 'total';

/** What a reservation holds until released; release is idempotent. */
export interface Reservation {
  readonly key: string;
  readonly amount: number;
  /** Changes the amount held; false (and nothing changed) if the caps do not allow it. */
  tryResize(amount: number): boolean;
  release(): void;
}

export type ReserveResult = { ok: true; reservation: Reservation } | { ok: false; reason: BudgetRefusal };

export class KeyedBudget {
  readonly #perKey: number;
  readonly #total: number;
  readonly #used = new Map<string, number>();
  #usedTotal = 0;

  constructor(options: KeyedBudgetOptions) {
    this.#perKey = checkCap('perKey', options.perKey);
    this.#total = checkCap('total', options.total);
  }

  /** Why `amount` more for `key` would be refused now, or undefined if it fits. */
  refusal(key: string, amount: number): BudgetRefusal | undefined {
    if ((this.#used.get(key) ?? 0) + amount > this.#perKey) return 'per-key';
    if (this.#usedTotal + amount > this.#total) return 'total';
    return undefined;
  }

  tryReserve(key: string, amount = 1): ReserveResult {
    checkAmount(amount);
    const reason = this.refusal(key, amount);
    if (reason) return { ok: false, reason };
    this.#add(key, amount);
    let held = amount;
    let released = false;
    const budget = this;
    const reservation: Reservation = {
      key,
      get amount() {
        return released ? 0 : held;
      },
      tryResize(next: number): boolean {
        checkAmount(next);
        if (released) return false;
        if (next > held && budget.refusal(key, next - held)) return false;
        budget.#add(key, next - held);
        held = next;
        return true;
      },
      release(): void {
        if (released) return;
        released = true;
        budget.#add(key, -held);
      },
    };
    return { ok: true, reservation };
  }

  /** Amount held by one key. */
  usedBy(key: string): number {
    return this.#used.get(key) ?? 0;
  }

  get used(): number {
    return this.#usedTotal;
  }

  /** Keys holding anything. */
  get keys(): number {
    return this.#used.size;
  }

  #add(key: string, delta: number): void {
    const next = (this.#used.get(key) ?? 0) + delta;
    if (next <= 0) this.#used.delete(key);
    else this.#used.set(key, next);
    this.#usedTotal += delta;
  }
}

function checkAmount(amount: number): void {
  if (!(amount >= 0) || !Number.isFinite(amount)) {
    throw new LimitError('LIMIT_BAD_AMOUNT', `amount must be a number >= 0, not ${amount}`);
  }
}

export interface ConnectionLimiterOptions {
  /** Connections one source may hold, logged in or not. */
  perSource: number;
  /** Connections all sources may hold. */
  total: number;
  /** Connections one source may hold before their key exchange (sshd PerSourceMaxStartups). */
  startupsPerSource: number;
  /** Connections all sources may hold before their key exchange (the "full" of sshd MaxStartups). */
  startups: number;
  /**
   * sshd MaxStartups "start:rate:full" random early drop: from `start` unauthenticated connections,
   * refuse a new one with probability `rate` (0..1), rising linearly to 1 at `startups`.
   */
  earlyDrop?: { start: number; rate: number };
  /** In [0, 1); default Math.random. Tests inject their own. */
  random?: () => number;
}

export type ConnectionRefusal = 'per-source' | 'total' | 'startups-per-source' | 'startups' | 'early-drop';

export interface ConnectionLease {
  readonly key: string;
  readonly authenticated: boolean;
  /** The key exchange is done: the connection leaves the startup tier. Idempotent. */
  markAuthenticated(): void;
  /** The connection is gone. Idempotent. */
  release(): void;
}

export type AcquireResult = { ok: true; lease: ConnectionLease } | { ok: false; reason: ConnectionRefusal };

export class ConnectionLimiter {
  readonly #all: KeyedBudget;
  readonly #startups: KeyedBudget;
  readonly #earlyDrop: { start: number; rate: number } | undefined;
  readonly #startupsCap: number;
  readonly #random: () => number;

  constructor(options: ConnectionLimiterOptions) {
    this.#all = new KeyedBudget({ perKey: options.perSource, total: options.total });
    this.#startups = new KeyedBudget({ perKey: options.startupsPerSource, total: options.startups });
    this.#startupsCap = options.startups;
    const drop = options.earlyDrop;
    if (drop) {
      checkCap('earlyDrop.start', drop.start);
      if (!(drop.rate >= 0 && drop.rate <= 1)) {
        throw new LimitError('LIMIT_BAD_OPTION', `earlyDrop.rate must be in 0..1`);
      }
    }
    this.#earlyDrop = drop;
    this.#random = options.random ?? Math.random;
  }

  /** A new, not yet authenticated connection from `key`. */
  tryAcquire(key: string): AcquireResult {
    const reason = this.#refusal(key);
    if (reason) return { ok: false, reason };
    const all = this.#all.tryReserve(key);
    const startup = this.#startups.tryReserve(key);
    // Both fit: #refusal checked them and nothing runs in between.
    if (!all.ok || !startup.ok) throw new Error('unreachable: budgets changed during tryAcquire');
    let authenticated = false;
    return {
      ok: true,
      lease: {
        key,
        get authenticated() {
          return authenticated;
        },
        markAuthenticated(): void {
          authenticated = true;
          startup.reservation.release();
        },
        release(): void {
          startup.reservation.release();
          all.reservation.release();
        },
      },
    };
  }

  #refusal(key: string): ConnectionRefusal | undefined {
    const all = this.#all.refusal(key, 1);
    const startup = this.#startups.refusal(key, 1);
    if (all === 'per-key') return 'per-source';
    if (startup === 'per-key') return 'startups-per-source';
    if (all === 'total') return 'total';
    if (startup === 'total') return 'startups';
    const drop = this.#earlyDrop;
    const n = this.#startups.used;
    if (drop && n >= drop.start) {
      const span = this.#startupsCap - drop.start;
      const p = span <= 0 ? 1 : drop.rate + ((1 - drop.rate) * (n - drop.start)) / span;
      if (this.#random() < p) return 'early-drop';
    }
    return undefined;
  }

  /** Connections held by one source, and of those not yet authenticated. */
  usedBy(key: string): { connections: number; startups: number } {
    return { connections: this.#all.usedBy(key), startups: this.#startups.usedBy(key) };
  }

  get connections(): number {
    return this.#all.used;
  }

  get startups(): number {
    return this.#startups.used;
  }

  /** Sources holding a connection. */
  get sources(): number {
    return this.#all.keys;
  }
}
