import { describe, expect, it } from 'vitest';
import { median, type RowResult, ratiosOf, render } from '../report.ts';

/** A median row as bench/run.ts keeps it: its own figures, every round's req/s in `extra`. */
function row(id: string, rounds: (number | null)[], reqPerSec = rounds[0] ?? undefined): RowResult {
  return {
    id,
    title: id,
    url: 'http://127.0.0.1:1/',
    telemetry: 'n/a',
    ok: true,
    problems: [],
    ...(reqPerSec === undefined ? {} : { reqPerSec }),
    cpuUsPerRequest: {},
    eventLoopP99Ms: {},
    rssAfterBytes: {},
    extra: { roundsReqPerSec: rounds },
  };
}

// The rounds of a real run (18afd3b): the VM slowed by a quarter after the first round.
const sixthRound = [
  row('ceiling-2hop', [17_877, 13_437, 13_871], 13_871),
  row('gateway-off', [7_241, 5_490, 5_347], 5_490),
  row('gateway-on', [6_205, 5_392, 4_711], 5_392),
  row('departures-off', [9_907, 10_784, 10_634], 10_634),
  row('departures-on', [9_537, 10_607, 8_451], 9_537),
];

describe('ratiosOf', () => {
  it('compares the rows of each round, then takes the median over the rounds', () => {
    const ratios = ratiosOf(sixthRound);
    // Each round's own pair cost 14.3, 1.8 and 11.9 %; the median rows' pair alone said 1.8 %.
    expect(ratios.telemetryCostGatewayPct).toBeCloseTo(11.94, 1);
    expect(ratios.telemetryCostDeparturesPct).toBeCloseTo(3.73, 1);
    // 40.5, 40.9 and 38.5 % of the ceiling in the rounds; the median rows gave 39.6 %.
    expect(ratios.gatewayOffPctOfCeiling2hop).toBeCloseTo(40.5, 1);
    expect(ratios.gatewayOnPctOfCeiling2hop).toBeCloseTo(34.7, 1);
  });

  it('is the plain ratio with one round, and undefined without a row to compare', () => {
    const ratios = ratiosOf([row('gateway-off', [8_000]), row('gateway-on', [7_000])]);
    expect(ratios.telemetryCostGatewayPct).toBeCloseTo(12.5, 5);
    expect(ratios.gatewayOffPctOfCeiling2hop).toBeUndefined();
    expect(ratios.telemetryCostDeparturesPct).toBeUndefined();
  });

  it('leaves out a round in which either row has no figure', () => {
    const ratios = ratiosOf([
      row('gateway-off', [8_000, null, 10_000]),
      row('gateway-on', [6_000, 9_000, 9_000]),
    ]);
    // 25 % and 10 %: the median of two is their mean.
    expect(ratios.telemetryCostGatewayPct).toBeCloseTo(17.5, 5);
  });
});

describe('median', () => {
  it('ignores undefined and averages the middle two of an even count', () => {
    expect(median([3, undefined, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([undefined])).toBeUndefined();
  });
});

describe('render', () => {
  it("prints each round's ratios beside the medians", () => {
    const text = render(sixthRound, ratiosOf(sixthRound), []);
    expect(text).toContain('Ratios (each the median over the rounds of the two rows of one round):');
    expect(text).toContain('throughput cost: gateway 11.9 %, departures 3.7 %');
    expect(text).toMatch(/telemetry cost in each round:\n\s+gateway\s+14\.3 % \/ 1\.8 % \/ 11\.9 %/);
    expect(text).toMatch(/gateway-off\s+40\.5 % \/ 40\.9 % \/ 38\.5 %/);
  });
});
