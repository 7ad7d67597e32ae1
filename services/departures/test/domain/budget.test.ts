import { describe, expect, it } from 'vitest';
import { type CallKind, TokenBucket, UpstreamBudget } from '../../src/domain/budget.ts';

function takeWhilePossible(bucket: TokenBucket, now: number, limit = 1_000): number {
  let taken = 0;
  while (taken < limit && bucket.tryTake(now)) taken += 1;
  return taken;
}

describe('TokenBucket', () => {
  it('when new, then it is full: capacity calls pass and the next one fails', () => {
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 2 }, 0);
    expect(bucket.tokens(0)).toBe(5);
    for (let i = 0; i < 5; i += 1) expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
    expect(bucket.tokens(0)).toBe(0);
  });

  it('when the burst is spent, then it refills at refillPerSecond (1.5 s at 2/s gives 3 calls)', () => {
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 2 }, 0);
    expect(takeWhilePossible(bucket, 0)).toBe(5);
    expect(bucket.tryTake(400)).toBe(false);
    expect(takeWhilePossible(bucket, 1_500)).toBe(3);
    expect(bucket.tryTake(1_500)).toBe(false);
  });

  it('when a failed take happens, then it costs no token', () => {
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 1 }, 0);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(500)).toBe(false);
    expect(bucket.tryTake(1_000)).toBe(true);
  });

  it('when idle for a long time, then it holds no more than capacity', () => {
    const bucket = new TokenBucket({ capacity: 3, refillPerSecond: 10 }, 0);
    expect(takeWhilePossible(bucket, 0)).toBe(3);
    expect(bucket.tokens(3_600_000)).toBe(3);
    expect(takeWhilePossible(bucket, 3_600_000)).toBe(3);
  });

  it('when the clock goes backwards, then no tokens are created', () => {
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 1 }, 10_000);
    expect(takeWhilePossible(bucket, 10_000)).toBe(2);
    expect(bucket.tryTake(5_000)).toBe(false);
    // And the refill is still measured from the latest time seen.
    expect(bucket.tryTake(10_999)).toBe(false);
    expect(bucket.tryTake(11_500)).toBe(true);
  });

  it('secondsUntilToken is 0 with a token, else the time the refill needs for one', () => {
    const bucket = new TokenBucket({ capacity: 1, refillPerSecond: 2 }, 0);
    expect(bucket.secondsUntilToken(0)).toBe(0);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.secondsUntilToken(0)).toBeCloseTo(0.5, 9);
    expect(bucket.secondsUntilToken(250)).toBeCloseTo(0.25, 9);
    expect(bucket.secondsUntilToken(500)).toBe(0);
  });

  it('secondsUntilToken at a slow rate (6 per minute) is 10 s after the bucket is spent', () => {
    const bucket = new TokenBucket({ capacity: 2, refillPerSecond: 6 / 60 }, 0);
    expect(takeWhilePossible(bucket, 0)).toBe(2);
    expect(bucket.secondsUntilToken(0)).toBeCloseTo(10, 6);
    expect(bucket.secondsUntilToken(4_000)).toBeCloseTo(6, 6);
  });
});

describe('TokenBucket with a floor', () => {
  it('when a floor is given, then a take leaves at least that many tokens', () => {
    const bucket = new TokenBucket({ capacity: 5, refillPerSecond: 0.001 }, 0);
    expect(takeWhilePossibleAbove(bucket, 0, 2)).toBe(3);
    expect(bucket.tokens(0)).toBe(2);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(true);
    expect(bucket.tryTake(0)).toBe(false);
  });

  it('secondsUntilToken with a floor is the time to refill above it', () => {
    const bucket = new TokenBucket({ capacity: 4, refillPerSecond: 1 }, 0);
    expect(takeWhilePossibleAbove(bucket, 0, 0)).toBe(4);
    expect(bucket.secondsUntilToken(0, 2)).toBeCloseTo(3, 9);
    expect(bucket.secondsUntilToken(0)).toBeCloseTo(1, 9);
  });
});

function takeWhilePossibleAbove(bucket: TokenBucket, now: number, floor: number): number {
  let taken = 0;
  while (taken < 1_000 && bucket.tryTake(now, floor)) taken += 1;
  return taken;
}

describe('UpstreamBudget (demand first)', () => {
  const budget = (reserveShare: number, capacity = 10) =>
    new UpstreamBudget({ capacity, refillPerSecond: 0.001, reserveShare }, 0);
  const takeAll = (b: UpstreamBudget, kind: CallKind, inDemand: number) => {
    let taken = 0;
    while (taken < 1_000 && b.tryTake(kind, 0, inDemand)) taken += 1;
    return taken;
  };

  it('the reserve is share × capacity in whole tokens, and never more than the routes in demand', () => {
    expect(budget(0.3).reserve(10)).toBe(3);
    expect(budget(0.3).reserve(2)).toBe(2);
    expect(budget(0.3).reserve(0)).toBe(0);
    expect(budget(0.3, 5).reserve(10)).toBe(1);
    expect(budget(0.3, 3).reserve(10)).toBe(0);
    expect(budget(0.9).reserve(100)).toBe(9);
    expect(budget(5).maxReserve).toBe(9);
  });

  it('when routes are in demand, then cold calls stop at the reserve and the others may take the rest', () => {
    const b = budget(0.3);
    expect(takeAll(b, 'cold', 5)).toBe(7);
    expect(b.secondsUntilToken('cold', 0, 5)).toBeGreaterThan(0);
    expect(b.secondsUntilToken('demand', 0, 5)).toBe(0);
    expect(b.tryTake('refresh_ahead', 0, 5)).toBe(true);
    expect(b.tryTake('probe', 0, 5)).toBe(true);
    expect(takeAll(b, 'demand', 5)).toBe(1);
    expect(takeAll(b, 'refresh_ahead', 5)).toBe(0);
  });

  it('when nothing is in demand, then cold calls may take the whole bucket', () => {
    expect(takeAll(budget(0.3), 'cold', 0)).toBe(10);
  });

  it('when the share is 0, then every kind is alike', () => {
    expect(takeAll(budget(0), 'cold', 50)).toBe(10);
  });
});
