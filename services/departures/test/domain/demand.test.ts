import { describe, expect, it } from 'vitest';
import { DemandTracker } from '../../src/domain/demand.ts';

const T0 = 1_000_000;

describe('DemandTracker', () => {
  it('when a route is asked for once, then it is not in demand; asked again within the window, it is', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 120, maxRoutes: 10 });
    expect(demand.ask('WHP>LTN', 'q', T0)).toBe(false);
    expect(demand.isInDemand('WHP>LTN', T0 + 1)).toBe(false);
    expect(demand.ask('WHP>LTN', 'q', T0 + 60_000)).toBe(true);
    expect(demand.inDemand(T0 + 60_000)).toEqual([{ key: 'WHP>LTN', query: 'q' }]);
  });

  it('when the two asks are further apart than the window, then not in demand', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 120, maxRoutes: 10 });
    demand.ask('A', 'a', T0);
    expect(demand.ask('A', 'a', T0 + 120_001)).toBe(false);
  });

  it('when the window passes after the second-to-last ask, then the route leaves demand', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 120, maxRoutes: 10 });
    demand.ask('A', 'a', T0);
    demand.ask('A', 'a', T0 + 10_000);
    expect(demand.isInDemand('A', T0 + 120_000)).toBe(true);
    expect(demand.isInDemand('A', T0 + 120_001)).toBe(false);
    expect(demand.count(T0 + 120_001, 10)).toBe(0);
  });

  it('counts routes in demand up to a limit', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 120, maxRoutes: 100 });
    for (const key of ['A', 'B', 'C', 'D', 'E']) {
      demand.ask(key, key, T0);
      demand.ask(key, key, T0 + 1);
    }
    demand.ask('F', 'F', T0 + 2);
    expect(demand.count(T0 + 2, 100)).toBe(5);
    expect(demand.count(T0 + 2, 3)).toBe(3);
  });

  it('when routes are not asked for within the window, then they are forgotten', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 60, maxRoutes: 100 });
    demand.ask('A', 'a', T0);
    demand.ask('B', 'b', T0 + 30_000);
    demand.prune(T0 + 60_001);
    expect(demand.size).toBe(1);
    demand.prune(T0 + 90_001);
    expect(demand.size).toBe(0);
  });

  it('when more routes are asked for than maxRoutes, then the least recently asked are forgotten', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 600, maxRoutes: 3 });
    for (const [i, key] of ['A', 'B', 'C', 'D'].entries()) demand.ask(key, key, T0 + i);
    expect(demand.size).toBe(3);
    // A was forgotten: its next ask is a first ask again.
    expect(demand.ask('A', 'A', T0 + 10)).toBe(false);
    expect(demand.ask('D', 'D', T0 + 11)).toBe(true);
  });

  it('when a route is backed off, then it is left out of inDemand until then, and still counted', () => {
    const demand = new DemandTracker<string>({ recentSeconds: 120, maxRoutes: 10 });
    demand.ask('A', 'a', T0);
    demand.ask('A', 'a', T0 + 1);
    demand.backOff('A', T0 + 5_000);
    expect(demand.inDemand(T0 + 4_999)).toEqual([]);
    expect(demand.count(T0 + 4_999, 10)).toBe(1);
    expect(demand.inDemand(T0 + 5_000)).toEqual([{ key: 'A', query: 'a' }]);
  });
});
