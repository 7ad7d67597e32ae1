import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/domain/budget.ts';

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
