import { describe, expect, it } from 'vitest';
import type { StationBoard } from '../../src/domain/board.ts';
import { BoardCache } from '../../src/domain/cache.ts';

function board(crs: string): StationBoard {
  return {
    generatedAt: '2026-03-11T08:00:00Z',
    locationName: `Station ${crs}`,
    crs,
    trainServices: [{ std: '08:01' }],
  };
}

const options = { ttlSeconds: 30, staleMaxAgeSeconds: 600, maxEntries: 100 };

describe('BoardCache', () => {
  it('when a route was never stored, then the lookup is a miss', () => {
    const cache = new BoardCache(options);
    expect(cache.lookup('WHP>*', 0)).toEqual({ result: 'miss' });
  });

  it('when the board is younger than the TTL, then the lookup is a hit with its age', () => {
    const cache = new BoardCache(options);
    const stored = board('WHP');
    cache.store('WHP>*', stored, 1_000);
    const lookup = cache.lookup('WHP>*', 11_000);
    expect(lookup.result).toBe('hit');
    if (lookup.result === 'miss') throw new Error('expected an entry');
    expect(lookup.entry.board).toBe(stored);
    expect(lookup.entry.fetchedAt).toBe(1_000);
    expect(lookup.ageSeconds).toBe(10);
  });

  it('when the board is exactly TTL old, then it is still a hit', () => {
    const cache = new BoardCache(options);
    cache.store('WHP>*', board('WHP'), 0);
    expect(cache.lookup('WHP>*', 30_000).result).toBe('hit');
  });

  it('when the board is older than the TTL but within staleMaxAge, then the lookup is stale', () => {
    const cache = new BoardCache(options);
    cache.store('WHP>*', board('WHP'), 0);
    const justPastTtl = cache.lookup('WHP>*', 30_001);
    expect(justPastTtl.result).toBe('stale');
    const atMaxAge = cache.lookup('WHP>*', 600_000);
    expect(atMaxAge.result).toBe('stale');
    if (atMaxAge.result === 'miss') throw new Error('expected an entry');
    expect(atMaxAge.ageSeconds).toBe(600);
    expect(cache.size).toBe(1);
  });

  it('when the board is older than staleMaxAge, then the lookup is a miss and the entry is gone', () => {
    const cache = new BoardCache(options);
    cache.store('WHP>*', board('WHP'), 0);
    expect(cache.lookup('WHP>*', 600_001)).toEqual({ result: 'miss' });
    expect(cache.size).toBe(0);
    // Gone for good: even a lookup "back in time" does not find it.
    expect(cache.lookup('WHP>*', 1_000)).toEqual({ result: 'miss' });
  });

  it('when a board is stored again, then the new one replaces the old and its age restarts', () => {
    const cache = new BoardCache(options);
    cache.store('WHP>*', board('WHP'), 0);
    const newer = board('WHP');
    cache.store('WHP>*', newer, 100_000);
    const lookup = cache.lookup('WHP>*', 110_000);
    expect(lookup.result).toBe('hit');
    if (lookup.result === 'miss') throw new Error('expected an entry');
    expect(lookup.entry.board).toBe(newer);
    expect(cache.size).toBe(1);
  });

  it('when the clock is behind the fetch time, then the age is 0, not negative', () => {
    const cache = new BoardCache(options);
    cache.store('WHP>*', board('WHP'), 5_000);
    const lookup = cache.lookup('WHP>*', 4_000);
    expect(lookup).toMatchObject({ result: 'hit', ageSeconds: 0 });
  });

  it('when more than maxEntries routes are stored, then the least recently used is evicted', () => {
    const cache = new BoardCache({ ...options, maxEntries: 3 });
    cache.store('A', board('AAA'), 0);
    cache.store('B', board('BBB'), 0);
    cache.store('C', board('CCC'), 0);
    // Touch A, so B is now the least recently used.
    expect(cache.lookup('A', 1_000).result).toBe('hit');
    cache.store('D', board('DDD'), 2_000);
    expect(cache.size).toBe(3);
    expect(cache.lookup('B', 2_000).result).toBe('miss');
    expect(cache.lookup('A', 2_000).result).toBe('hit');
    expect(cache.lookup('C', 2_000).result).toBe('hit');
    expect(cache.lookup('D', 2_000).result).toBe('hit');
  });

  it('when routes differ only by destination filter, then they are separate entries', () => {
    const cache = new BoardCache(options);
    const all = board('WHP');
    const toStp = { ...board('WHP'), filtercrs: 'STP' };
    cache.store('WHP>*', all, 0);
    cache.store('WHP>STP', toStp, 0);
    const a = cache.lookup('WHP>*', 0);
    const b = cache.lookup('WHP>STP', 0);
    if (a.result === 'miss' || b.result === 'miss') throw new Error('expected entries');
    expect(a.entry.board).toBe(all);
    expect(b.entry.board).toBe(toStp);
  });
});
