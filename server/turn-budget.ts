/**
 * Fairness between connections: a budget of 1028 content bytes (decrypt + cksum + write,
 * done synchronously as they arrive) for one event-loop turn, one per file server, shared by
 * all of its connections.
 *
 * libuv may hand one turn dozens of 64 KiB reads per socket; across 100 uploading sockets
 * that was hundreds of MiB of AES and CRC before the loop could accept a connection or
 * answer a 1025. Once the turn's budget is spent, a connection stops before its next slice
 * of content, pauses its socket and waits for nextTurn() (a setImmediate, after the next
 * poll), keeping its queued events in order. Waiters resume first come, first served, so a
 * connection that had to wait goes ahead of one that just ran. Other requests (1025-1027,
 * 1029-1031) are small and never wait for the budget.
 */

/** Content bytes all connections together may process per event-loop turn. */
export const TURN_CONTENT_BUDGET = 1024 * 1024;

export class TurnBudget {
  #used = 0;
  #armed = false;
  #waiters: (() => void)[] = [];

  constructor(readonly limit = TURN_CONTENT_BUDGET) {}

  /** This turn's budget is spent: wait for nextTurn() before processing more content. */
  get exhausted(): boolean {
    return this.#used >= this.limit;
  }

  /** Counts `bytes` of content processed in this turn. */
  spend(bytes: number): void {
    this.#used += bytes;
    this.#arm();
  }

  /** Resolves in the next turn, once the budget is fresh (waiters in arrival order). */
  nextTurn(): Promise<void> {
    this.#arm();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** One reset per turn: a setImmediate runs after this turn's poll phase. */
  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    setImmediate(() => {
      this.#armed = false;
      this.#used = 0;
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const resolve of waiters) resolve();
    });
  }
}
