import { describe, expect, it } from 'vitest';
import { TurnBudget } from './turn-budget';

describe('TurnBudget', () => {
  it('is spent once a turn processed its limit, fresh again in the next turn', async () => {
    const b = new TurnBudget(100);
    expect(b.exhausted).toBe(false);
    b.spend(60);
    expect(b.exhausted).toBe(false);
    b.spend(40);
    expect(b.exhausted).toBe(true);
    await b.nextTurn();
    expect(b.exhausted).toBe(false);
  });

  it('wakes waiters in the order they started waiting', async () => {
    const b = new TurnBudget(1);
    b.spend(1);
    const order: number[] = [];
    await Promise.all([1, 2, 3].map((n) => b.nextTurn().then(() => order.push(n))));
    expect(order).toEqual([1, 2, 3]);
  });
});
