import { describe, expect, it } from 'vitest';
import { cyrb53, rng } from '../../src/domain/prng.ts';
import { findStation, LINE_ORDER, STATIONS, TERMINI } from '../../src/domain/stations.ts';
import {
  formatHhmm,
  generateTimetable,
  getTimetable,
  londonClock,
  serviceIdFor,
  shiftDate,
} from '../../src/domain/timetable.ts';

const DATE = '2026-03-11';

describe('stations', () => {
  it('lists the 21 bookable stations, each on the line', () => {
    expect(STATIONS).toHaveLength(21);
    expect(new Set(STATIONS.map((s) => s.crs))).toEqual(new Set(LINE_ORDER));
  });

  it('finds a station by CRS in any case, and not an out-of-area terminus', () => {
    expect(findStation('whp')?.name).toBe('West Hampstead Thameslink');
    expect(findStation('BCZ')?.tiploc).toBeNull();
    expect(TERMINI.map((t) => t.crs)).toContain('BTN');
    expect(findStation('BTN')).toBeUndefined();
  });
});

describe('rng', () => {
  it('gives the same sequence for the same seed and keys, and another for other keys', () => {
    const a = rng('seed', 'x', 1);
    const b = rng('seed', 'x', 1);
    const c = rng('seed', 'x1');
    const seqA = [a(), a(), a()];
    expect([b(), b(), b()]).toEqual(seqA);
    expect([c(), c(), c()]).not.toEqual(seqA);
    expect(seqA.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(cyrb53('abc')).toBe(cyrb53('abc'));
  });
});

describe('generateTimetable', () => {
  it('when generated twice with the same seed and date, then the trips are identical', () => {
    expect(generateTimetable('s1', DATE).trips).toEqual(generateTimetable('s1', DATE).trips);
  });

  it('when the seed differs, then the departure times differ', () => {
    const times = (seed: string) =>
      (generateTimetable(seed, DATE).departuresByCrs.get('WHP') ?? []).map((d) => d.dep);
    expect(times('s1')).not.toEqual(times('s2'));
  });

  it('runs every trip along the line in order, with times rising stop by stop', () => {
    for (const trip of generateTimetable('s1', DATE).trips) {
      const inArea = trip.calls.filter((c) => c.inArea).map((c) => LINE_ORDER.indexOf(c.crs));
      const sorted = [...inArea].sort((a, b) => (trip.direction === 'north' ? a - b : b - a));
      expect(inArea).toEqual(sorted);
      const times = trip.calls.flatMap((c) => [c.arr, c.dep].filter((t): t is number => t !== null));
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] ?? 0);
      expect(trip.calls[0]?.arr).toBeNull();
      expect(trip.calls.at(-1)?.dep).toBeNull();
    }
  });

  it('runs services from about 05:00 until 00:30', () => {
    const firstDeps = generateTimetable('s1', DATE).trips.map(
      (t) => t.calls.find((c) => c.inArea && c.dep !== null)?.dep ?? 0,
    );
    expect(Math.min(...firstDeps)).toBeGreaterThanOrEqual(5 * 60);
    expect(Math.min(...firstDeps)).toBeLessThan(5 * 60 + 30);
    expect(Math.max(...firstDeps)).toBeLessThanOrEqual(24 * 60 + 30);
    expect(Math.max(...firstDeps)).toBeGreaterThan(24 * 60);
  });

  it('takes a realistic time between West Hampstead and St Albans', () => {
    for (const trip of generateTimetable('s1', DATE).trips.filter((t) => t.direction === 'north')) {
      const whp = trip.calls.find((c) => c.crs === 'WHP');
      const sac = trip.calls.find((c) => c.crs === 'SAC');
      if (!whp?.dep || !sac?.arr) continue;
      expect(sac.arr - whp.dep).toBeGreaterThanOrEqual(12);
      expect(sac.arr - whp.dep).toBeLessThanOrEqual(35);
    }
  });

  it('gives each trip a unique 7-digit uid, a TL rsid and 8 or 12 cars', () => {
    const { trips } = generateTimetable('s1', DATE);
    expect(new Set(trips.map((t) => t.uid)).size).toBe(trips.length);
    for (const trip of trips) {
      expect(trip.uid).toMatch(/^\d{7}$/);
      expect(trip.rsid).toMatch(/^TL\d{4}00$/);
      expect([8, 12]).toContain(trip.length);
    }
  });

  it('puts trains on the platforms of their direction', () => {
    for (const trip of generateTimetable('s1', DATE).trips) {
      const whp = trip.calls.find((c) => c.crs === 'WHP')?.platform;
      const stp = trip.calls.find((c) => c.crs === 'STP')?.platform;
      const north = trip.direction === 'north';
      if (whp) expect(north ? ['3', '4'] : ['1', '2']).toContain(whp);
      if (stp) expect(stp).toBe(north ? 'B' : 'A');
    }
  });
});

describe('getTimetable', () => {
  it('returns the cached timetable for the same seed and date', () => {
    expect(getTimetable('cache', DATE)).toBe(getTimetable('cache', DATE));
  });
});

describe('serviceIdFor', () => {
  it('is the uid plus the TIPLOC padded with underscores, or the CRS when there is no TIPLOC', () => {
    const trip = generateTimetable('s1', DATE).trips[0];
    if (!trip) throw new Error('no trips');
    expect(serviceIdFor(trip, 'WHP')).toBe(`${trip.uid}WHMPSTM_`);
    expect(serviceIdFor(trip, 'BCZ')).toBe(`${trip.uid}BCZ_____`);
  });
});

describe('time helpers', () => {
  it('reads London time as GMT in winter and BST in summer', () => {
    expect(londonClock(new Date('2026-01-14T08:30:00Z'))).toMatchObject({
      hour: 8,
      minute: 30,
      offsetMinutes: 0,
    });
    expect(londonClock(new Date('2026-07-01T07:00:00Z'))).toMatchObject({
      date: '2026-07-01',
      hour: 8,
      offsetMinutes: 60,
    });
    expect(londonClock(new Date('2026-07-01T23:30:00Z')).date).toBe('2026-07-02');
  });

  it('formats minutes as HH:MM, wrapping past midnight', () => {
    expect(formatHhmm(8 * 60 + 5)).toBe('08:05');
    expect(formatHhmm(24 * 60 + 20)).toBe('00:20');
    expect(formatHhmm(-10)).toBe('23:50');
  });

  it('shifts dates across month and year ends', () => {
    expect(shiftDate('2026-03-01', -1)).toBe('2026-02-28');
    expect(shiftDate('2025-12-31', 1)).toBe('2026-01-01');
  });
});
