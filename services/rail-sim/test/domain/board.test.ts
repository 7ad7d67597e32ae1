import { describe, expect, it, vi } from 'vitest';
import { type BoardQuery, buildBoard, emptyBoard, type TrainService } from '../../src/domain/board.ts';
import { CANCEL_REASONS } from '../../src/domain/disruption.ts';
import { getTimetable } from '../../src/domain/timetable.ts';

// getTimetable as it is, but watched: which timetable objects boards are built from.
vi.mock('../../src/domain/timetable.ts', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/domain/timetable.ts')>();
  return { ...actual, getTimetable: vi.fn(actual.getTimetable) };
});

const MORNING = new Date('2026-03-11T08:00:00Z');
const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

function query(over: Partial<BoardQuery> = {}): BoardQuery {
  return {
    crs: 'WHP',
    numRows: 10,
    filterType: 'to',
    timeOffset: 0,
    timeWindow: 120,
    now: MORNING,
    seed: 'test-seed',
    disruption: false,
    ...over,
  };
}

function board(over: Partial<BoardQuery> = {}) {
  const b = buildBoard(query(over));
  if (!b) throw new Error('expected a board');
  return b;
}

function services(over: Partial<BoardQuery> = {}): TrainService[] {
  return board(over).trainServices ?? [];
}

function minutes(hhmm: string): number {
  const [h = 0, m = 0] = hhmm.split(':').map(Number);
  return h * 60 + m;
}

/** Minutes from b to a, on the clock face (so 00:02 is 4 minutes after 23:58). */
function lateness(a: string, b: string): number {
  return ((((minutes(a) - minutes(b)) % 1440) + 1440 + 720) % 1440) - 720;
}

/** Every departure of the service day 2026-03-11 from the station (the window spans the whole day). */
function wholeDay(crs: string, disruption: boolean): TrainService[] {
  return services({
    crs,
    disruption,
    now: new Date('2026-03-11T03:00:00Z'),
    timeWindow: 24 * 60,
    numRows: 10_000,
  });
}

describe('buildBoard', () => {
  it('when filtered to LTN, then every service calls at LTN after WHP', () => {
    const b = board({ filterCrs: 'LTN', timeWindow: 60, numRows: 5 });
    const list = b.trainServices ?? [];
    expect(list.length).toBeGreaterThan(0);
    expect(list.length).toBeLessThanOrEqual(5);
    expect(b).toMatchObject({
      crs: 'WHP',
      locationName: 'West Hampstead Thameslink',
      filtercrs: 'LTN',
      filterLocationName: 'Luton Airport Parkway',
      filterType: 0,
      nrccMessages: null,
    });
    for (const s of list) {
      expect(s.subsequentCallingPoints[0]?.callingPoint.map((c) => c.crs)).toContain('LTN');
    }
  });

  it('lists departures sorted by std, within the window and at most numRows', () => {
    const list = services({ timeWindow: 60, numRows: 6 });
    expect(list).toHaveLength(6);
    const stds = list.map((s) => minutes(s.std));
    expect(stds).toEqual([...stds].sort((a, b) => a - b));
    for (const std of stds) {
      expect(std).toBeGreaterThanOrEqual(8 * 60);
      expect(std).toBeLessThanOrEqual(9 * 60);
    }
  });

  it('honours a positive time offset', () => {
    const stds = services({ timeOffset: 60, timeWindow: 30 }).map((s) => minutes(s.std));
    expect(stds.length).toBeGreaterThan(0);
    for (const std of stds) {
      expect(std).toBeGreaterThanOrEqual(9 * 60);
      expect(std).toBeLessThanOrEqual(9 * 60 + 30);
    }
  });

  it('fills every service with realistic LDBWS fields', () => {
    for (const s of wholeDay('WHP', false)) {
      expect(s.std).toMatch(HHMM);
      expect(s.etd === 'On time' || s.etd === 'Delayed' || s.etd === 'Cancelled' || HHMM.test(s.etd)).toBe(
        true,
      );
      expect(s.operator).toBe('Thameslink');
      expect(s.operatorCode).toBe('TL');
      expect(s.rsid).toMatch(/^TL\d{4}00$/);
      expect(s.serviceID).toMatch(/^\d{7}WHMPSTM_$/);
      expect([8, 12]).toContain(s.length);
      expect(s.origin).toHaveLength(1);
      expect(s.destination).toHaveLength(1);
      expect(s.sta).toMatch(HHMM);
      const calls = s.subsequentCallingPoints[0]?.callingPoint ?? [];
      expect(calls.length).toBeGreaterThan(0);
      expect(calls.at(-1)?.crs).toBe(s.destination[0]?.crs);
      for (const c of calls) expect(c.st).toMatch(HHMM);
      if (s.isCancelled) {
        expect(s.etd).toBe('Cancelled');
        expect(CANCEL_REASONS).toContain(s.cancelReason);
        expect(s.delayReason).toBeNull();
        expect(calls.every((c) => c.isCancelled && c.et === 'Cancelled')).toBe(true);
      } else {
        expect(s.cancelReason).toBeNull();
      }
      if (s.etd === 'On time') expect(s.delayReason).toBeNull();
      if (s.etd === 'Delayed') expect(s.delayReason).not.toBeNull();
    }
  });

  it('when a train is late, then the estimate carries on to its later calling points', () => {
    const late = wholeDay('WHP', false).filter((s) => HHMM.test(s.etd) && lateness(s.etd, s.std) >= 6);
    expect(late.length).toBeGreaterThan(0);
    for (const s of late) {
      const delay = lateness(s.etd, s.std);
      const next = s.subsequentCallingPoints[0]?.callingPoint[0];
      if (!next?.et) throw new Error('missing calling point');
      expect(lateness(next.et, next.st)).toBeGreaterThanOrEqual(delay - 2);
      expect(lateness(next.et, next.st)).toBeLessThanOrEqual(delay);
    }
  });

  it('leaves sta and eta empty where the train starts', () => {
    const fromBedford = services({ crs: 'BDM' });
    expect(fromBedford.length).toBeGreaterThan(0);
    for (const s of fromBedford) {
      expect(s.origin[0]?.crs).toBe('BDM');
      expect(s.sta).toBeNull();
      expect(s.eta).toBeNull();
    }
  });

  it('when the seed and time are the same, then the board is identical; another seed gives another board', () => {
    expect(buildBoard(query())).toEqual(buildBoard(query()));
    expect(buildBoard(query({ seed: 'other-seed' }))?.trainServices).not.toEqual(
      buildBoard(query())?.trainServices,
    );
  });

  it('when the CRS is unknown or out of the area, then there is no board', () => {
    expect(buildBoard(query({ crs: 'XYZ' }))).toBeNull();
    expect(buildBoard(query({ crs: 'BTN' }))).toBeNull();
  });

  it('accepts a lower-case CRS', () => {
    expect(buildBoard(query({ crs: 'whp', filterCrs: 'ltn' }))).toMatchObject({
      crs: 'WHP',
      filtercrs: 'LTN',
    });
  });

  it("when filtered 'from' WHP at LTN, then every service called at WHP earlier", () => {
    const b = board({ crs: 'LTN', filterCrs: 'WHP', filterType: 'from' });
    expect(b.filterType).toBe(1);
    const list = b.trainServices ?? [];
    expect(list.length).toBeGreaterThan(0);
    const trips = getTimetable('test-seed', '2026-03-11').trips;
    for (const s of list) {
      const trip = trips.find((t) => s.serviceID.startsWith(t.uid));
      const crsList = trip?.calls.map((c) => c.crs) ?? [];
      expect(crsList.indexOf('WHP')).toBeGreaterThanOrEqual(0);
      expect(crsList.indexOf('WHP')).toBeLessThan(crsList.indexOf('LTN'));
    }
  });

  it('when filtered to a station no train reaches from here, then there are no services', () => {
    expect(board({ crs: 'CRI', filterCrs: 'BDM' }).trainServices).toBeNull();
  });

  it('over a whole day at several stations, the mix is near the target percentages', () => {
    const all = ['WHP', 'SAC', 'LTN', 'BFR', 'CRI'].flatMap((crs) => wholeDay(crs, false));
    expect(all.length).toBeGreaterThan(500);
    const share = (test: (s: TrainService) => boolean) => all.filter(test).length / all.length;
    const cancelled = share((s) => s.isCancelled);
    const onTime = share((s) => s.etd === 'On time');
    const late = share((s) => HHMM.test(s.etd));
    expect(cancelled).toBeGreaterThan(0.015);
    expect(cancelled).toBeLessThan(0.06);
    expect(onTime).toBeGreaterThan(0.6);
    expect(onTime).toBeLessThan(0.8);
    expect(late).toBeGreaterThan(0.15);
    expect(late).toBeLessThan(0.35);
  });

  it('in disruption mode, cancels far more trains and shows an NRCC message', () => {
    const normal = wholeDay('WHP', false);
    const disrupted = wholeDay('WHP', true);
    const cancelled = (list: TrainService[]) => list.filter((s) => s.isCancelled).length / list.length;
    expect(cancelled(disrupted)).toBeGreaterThan(0.15);
    expect(cancelled(disrupted)).toBeGreaterThan(3 * cancelled(normal));
    const message = board({ disruption: true }).nrccMessages?.[0]?.value;
    expect(message).toMatch(/^Disruption between .+ and .+ is expected until \d\d:\d\d\./);
  });

  it('in BST (July), shows London local times an hour ahead of UTC', () => {
    const b = board({ now: new Date('2026-07-01T07:00:00Z'), timeWindow: 30 });
    const first = b.trainServices?.[0];
    if (!first) throw new Error('no services');
    expect(minutes(first.std)).toBeGreaterThanOrEqual(8 * 60);
    expect(minutes(first.std)).toBeLessThan(8 * 60 + 30);
    expect(b.generatedAt).toMatch(/^2026-07-01T08:00:00\.\d{3,7}\+01:00$/);
  });

  it('in GMT (January), shows London local times equal to UTC', () => {
    const b = board({ now: new Date('2026-01-14T08:00:00Z'), timeWindow: 30 });
    const first = b.trainServices?.[0];
    if (!first) throw new Error('no services');
    expect(minutes(first.std)).toBeGreaterThanOrEqual(8 * 60);
    expect(minutes(first.std)).toBeLessThan(8 * 60 + 30);
    expect(b.generatedAt).toMatch(/^2026-01-14T08:00:00\.\d{3,7}\+00:00$/);
  });

  it('when the window crosses midnight, then it does not throw and keeps the order across 00:00', () => {
    const list = services({ now: new Date('2026-03-11T23:40:00Z'), numRows: 50 });
    expect(list.length).toBeGreaterThan(0);
    const stds = list.map((s) => minutes(s.std));
    const wrapped = stds.map((m) => (m < 12 * 60 ? m + 1440 : m));
    expect(wrapped).toEqual([...wrapped].sort((a, b) => a - b));
    expect(stds.some((m) => m < 60)).toBe(true);
  });

  it("just after midnight, shows the previous service day's last trains", () => {
    const list = services({ now: new Date('2026-03-12T00:05:00Z') });
    expect(list.length).toBeGreaterThan(0);
    for (const s of list) expect(minutes(s.std)).toBeLessThan(3 * 60);
  });

  it('at night or on clock-change days, never throws', () => {
    for (const iso of [
      '2026-03-11T03:00:00Z',
      '2026-03-29T00:59:00Z',
      '2026-03-29T01:00:00Z',
      '2026-10-25T00:30:00Z',
      '2026-10-25T01:30:00Z',
    ]) {
      expect(() =>
        buildBoard(query({ now: new Date(iso), timeOffset: -120, timeWindow: 240 })),
      ).not.toThrow();
    }
    expect(board({ now: new Date('2026-03-11T03:00:00Z'), timeWindow: 60 }).trainServices).toBeNull();
  });

  it('when looking back, then trains expected more than a minute ago are gone', () => {
    const list = services({ timeOffset: -60, timeWindow: 120, numRows: 100 });
    const now = 8 * 60;
    for (const s of list) {
      if (s.etd === 'On time' || s.etd === 'Cancelled')
        expect(minutes(s.std)).toBeGreaterThanOrEqual(now - 1);
      if (HHMM.test(s.etd)) expect(minutes(s.etd)).toBeGreaterThanOrEqual(now - 1);
    }
  });

  it('once the day is cached, builds later boards of that day without generating a timetable again', () => {
    const watched = vi.mocked(getTimetable);
    buildBoard(query());
    const cached = new Set(watched.mock.results.map((r) => r.value));
    const callsBefore = watched.mock.calls.length;
    for (let i = 0; i < 200; i++) buildBoard(query({ now: new Date(MORNING.getTime() + i * 60_000) }));
    const used = watched.mock.results.slice(callsBefore).map((r) => r.value);
    // Every board asks getTimetable, and every answer is a timetable that already existed.
    expect(used.length).toBeGreaterThanOrEqual(200);
    expect(used.filter((t) => !cached.has(t)).length, 'timetables generated for the later boards').toBe(0);
  });
});

describe('emptyBoard', () => {
  it('is a normal-looking board for the station with no services', () => {
    expect(emptyBoard('whp', MORNING)).toMatchObject({
      trainServices: null,
      crs: 'WHP',
      locationName: 'West Hampstead Thameslink',
      nrccMessages: null,
      generatedAt: expect.stringMatching(/^2026-03-11T08:00:00\.\d+\+00:00$/),
    });
  });
});
