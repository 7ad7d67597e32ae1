import { pick, type Rng, randInt, rng } from './prng.ts';
import { LINE_ORDER, STATION_BY_CRS } from './stations.ts';

/** Direction of travel along the line. */
export type Direction = 'north' | 'south';

/**
 * One stop of a trip. Times are minutes after midnight (London local) of the trip's service day and
 * may exceed 1440 for trips running past midnight.
 */
export interface Call {
  crs: string;
  arr: number | null;
  dep: number | null;
  platform: string | null;
  inArea: boolean;
}

/** One run of a train on a service day. */
export interface Trip {
  /** 7-digit identifier, the station-independent part of the serviceID. */
  uid: string;
  rsid: string;
  patternId: string;
  direction: Direction;
  serviceDate: string;
  length: 8 | 12;
  calls: readonly Call[];
}

/** A trip departing a station: the trip and the index of that station's call. */
export interface Departure {
  trip: Trip;
  callIndex: number;
  dep: number;
}

/** A service day's trips, indexed by the stations they depart from. */
export interface Timetable {
  seed: string;
  serviceDate: string;
  trips: readonly Trip[];
  departuresByCrs: ReadonlyMap<string, readonly Departure[]>;
}

/** The wall-clock reading in London for an instant. */
export interface LondonClock {
  /** YYYY-MM-DD */
  date: string;
  /** Minutes after local midnight, with the seconds as a fraction. */
  minutes: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
  /** Offset from UTC in minutes: 0 in winter (GMT), 60 in summer (BST). */
  offsetMinutes: number;
}

interface OuterEnd {
  crs: string;
  /** Running time between the terminus and the nearest in-area stop. */
  minutes: number;
}

interface Pattern {
  id: string;
  rsidBase: number;
  headway: 15 | 30;
  fast: boolean;
  /** In-area stops, south to north. */
  stops: readonly string[];
  /** Southern out-of-area ends, used in turn by successive trips; empty when the trip starts in the area. */
  south: readonly OuterEnd[];
  lengths: readonly (8 | 12)[];
}

const CORE = ['LBG', 'BFR', 'CTK', 'ZFD', 'STP'];
// The Sutton and Sevenoaks routes reach Blackfriars via Elephant & Castle, not London Bridge.
const CORE_VIA_ELEPHANT = ['BFR', 'CTK', 'ZFD', 'STP'];

const PATTERNS: readonly Pattern[] = [
  {
    id: 'BTN-BDM',
    rsidBase: 4000,
    headway: 30,
    fast: true,
    stops: [...CORE, 'WHP', 'SAC', 'HPD', 'LTN', 'LUT', 'LEA', 'HLN', 'FLT', 'BDM'],
    south: [{ crs: 'BTN', minutes: 62 }],
    lengths: [12],
  },
  {
    id: 'GTW-BDM',
    rsidBase: 3000,
    headway: 30,
    fast: true,
    stops: [...CORE, 'WHP', 'SAC', 'LTN', 'LUT', 'FLT', 'BDM'],
    south: [
      { crs: 'TBD', minutes: 36 },
      { crs: 'GTW', minutes: 31 },
      { crs: 'TBD', minutes: 36 },
      { crs: 'HRH', minutes: 55 },
    ],
    lengths: [12, 12, 8],
  },
  {
    id: 'SUO-SAC',
    rsidBase: 1000,
    headway: 30,
    fast: false,
    stops: [...CORE_VIA_ELEPHANT, 'KTN', 'WHP', 'CRI', 'BCZ', 'HEN', 'MIL', 'ELS', 'RDT', 'SAC'],
    south: [{ crs: 'SUO', minutes: 48 }],
    lengths: [8],
  },
  {
    id: 'RAI-LUT',
    rsidBase: 2000,
    headway: 30,
    fast: false,
    stops: [...CORE, 'KTN', 'WHP', 'CRI', 'BCZ', 'HEN', 'MIL', 'ELS', 'RDT', 'SAC', 'HPD', 'LTN', 'LUT'],
    south: [{ crs: 'RAI', minutes: 78 }],
    lengths: [8, 12],
  },
  {
    id: 'SEV-KTN',
    rsidBase: 5000,
    headway: 30,
    fast: false,
    stops: [...CORE_VIA_ELEPHANT, 'KTN'],
    south: [{ crs: 'SEV', minutes: 58 }],
    lengths: [8],
  },
];

// Running minutes between consecutive stations for a train stopping at both ends; index i is the
// segment from LINE_ORDER[i] to LINE_ORDER[i + 1].
const SEGMENT_MINUTES = [5, 2, 2, 3, 4, 3, 3, 2, 2, 3, 4, 4, 4, 5, 5, 3, 3, 3, 3, 8];
// Not braking for and accelerating away from a station saves about a minute.
const PASS_SAVING = 1;
const LINE_INDEX: ReadonlyMap<string, number> = new Map(LINE_ORDER.map((crs, i) => [crs, i]));

const FIRST_DEPARTURE = 5 * 60;
const LAST_DEPARTURE = 24 * 60 + 30;

function dwell(crs: string): number {
  return crs === 'STP' || crs === 'LBG' ? 2 : 1;
}

function runMinutes(from: string, to: string): number {
  const a = LINE_INDEX.get(from);
  const b = LINE_INDEX.get(to);
  if (a === undefined || b === undefined) throw new Error(`not on the line: ${from}-${to}`);
  const [lo, hi] = a < b ? [a, b] : [b, a];
  let total = 0;
  for (let i = lo; i < hi; i++) total += SEGMENT_MINUTES[i] ?? 0;
  return total - (hi - lo - 1) * PASS_SAVING;
}

// Four-track stations put fast trains on the fast-line platforms.
const FOUR_TRACK = new Set(['SAC', 'HPD', 'LTN', 'LUT', 'BDM', 'KTN', 'CRI', 'HEN', 'MIL', 'RDT']);

function basePlatform(crs: string, direction: Direction, fast: boolean): string {
  const north = direction === 'north';
  switch (crs) {
    case 'WHP':
      return north ? (fast ? '4' : '3') : fast ? '1' : '2';
    case 'STP':
      return north ? 'B' : 'A';
    case 'LBG':
      return north ? '5' : '4';
    case 'BFR':
      return north ? '4' : '3';
    default:
      if (FOUR_TRACK.has(crs) && fast) return north ? '4' : '3';
      return north ? '2' : '1';
  }
}

function buildCalls(
  r: Rng,
  pattern: Pattern,
  direction: Direction,
  outer: OuterEnd | undefined,
  firstDeparture: number,
): Call[] {
  const stops = direction === 'north' ? pattern.stops : [...pattern.stops].reverse();
  const calls: Call[] = [];
  const platform = (crs: string): string | null => {
    // Darwin occasionally has no platform yet.
    if (r() < 0.03) return null;
    return basePlatform(crs, direction, pattern.fast);
  };
  const startsOutside = direction === 'north' && outer !== undefined;
  if (startsOutside) {
    calls.push({
      crs: outer.crs,
      arr: null,
      dep: firstDeparture - outer.minutes,
      platform: null,
      inArea: false,
    });
  }
  let prev: string | undefined;
  let time = firstDeparture;
  stops.forEach((crs, i) => {
    const isFirst = i === 0;
    const isLast = i === stops.length - 1;
    const terminatesHere = isLast && (direction === 'north' || outer === undefined);
    let arr: number | null;
    let dep: number | null;
    if (isFirst) {
      arr = startsOutside ? firstDeparture - dwell(crs) : null;
      dep = firstDeparture;
    } else {
      arr = time + runMinutes(prev ?? crs, crs);
      dep = terminatesHere ? null : arr + dwell(crs);
    }
    calls.push({ crs, arr, dep, platform: platform(crs), inArea: true });
    time = dep ?? arr ?? time;
    prev = crs;
  });
  if (direction === 'south' && outer !== undefined) {
    calls.push({ crs: outer.crs, arr: time + outer.minutes, dep: null, platform: null, inArea: false });
  }
  return calls;
}

/** Generates a service day's timetable; the same seed and date always give the same trips. */
export function generateTimetable(seed: string, serviceDate: string): Timetable {
  const trips: Trip[] = [];
  const usedUids = new Set<string>();
  for (const pattern of PATTERNS) {
    for (const direction of ['north', 'south'] as const) {
      // The clock-face offset belongs to the seed, not the day: a timetable repeats daily.
      const offset = randInt(rng(seed, 'offset', pattern.id, direction), 0, pattern.headway - 1);
      for (let k = 0; FIRST_DEPARTURE + offset + k * pattern.headway <= LAST_DEPARTURE; k++) {
        const r = rng(seed, serviceDate, pattern.id, direction, k);
        let uid = String(randInt(r, 1_000_000, 9_999_999));
        while (usedUids.has(uid)) uid = String(randInt(r, 1_000_000, 9_999_999));
        usedUids.add(uid);
        const outer = pattern.south.length > 0 ? pattern.south[k % pattern.south.length] : undefined;
        const firstDeparture = FIRST_DEPARTURE + offset + k * pattern.headway;
        trips.push({
          uid,
          rsid: `TL${pattern.rsidBase + 2 * k + (direction === 'north' ? 1 : 0)}00`,
          patternId: pattern.id,
          direction,
          serviceDate,
          length: pick(r, pattern.lengths),
          calls: buildCalls(r, pattern, direction, outer, firstDeparture),
        });
      }
    }
  }
  const departuresByCrs = new Map<string, Departure[]>();
  for (const trip of trips) {
    trip.calls.forEach((call, callIndex) => {
      if (!call.inArea || call.dep === null) return;
      let list = departuresByCrs.get(call.crs);
      if (!list) {
        list = [];
        departuresByCrs.set(call.crs, list);
      }
      list.push({ trip, callIndex, dep: call.dep });
    });
  }
  for (const list of departuresByCrs.values()) list.sort((a, b) => a.dep - b.dep);
  return { seed, serviceDate, trips, departuresByCrs };
}

const CACHE_LIMIT = 16;
const cache = new Map<string, Timetable>();

/** The timetable for (seed, service date), generated once and kept in a small bounded cache. */
export function getTimetable(seed: string, serviceDate: string): Timetable {
  const key = `${seed}\u001f${serviceDate}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const timetable = generateTimetable(seed, serviceDate);
  if (cache.size >= CACHE_LIMIT) {
    const oldest = cache.keys().next().value;
    if (oldest !== undefined) cache.delete(oldest);
  }
  cache.set(key, timetable);
  return timetable;
}

/** The LDBWS-style serviceID of a trip as seen from a station: uid + TIPLOC padded with '_' to 8. */
export function serviceIdFor(trip: Trip, crs: string): string {
  const tiploc = STATION_BY_CRS.get(crs)?.tiploc ?? crs;
  return `${trip.uid}${tiploc.padEnd(8, '_')}`;
}

/** 'HH:MM' for minutes after a midnight (wrapping past 24:00 and before 00:00). */
export function formatHhmm(minutes: number): string {
  const m = ((Math.floor(minutes) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** The date `days` after a YYYY-MM-DD date. */
export function shiftDate(date: string, days: number): string {
  const [y = 1970, m = 1, d = 1] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

const LONDON = new Intl.DateTimeFormat('en-GB', {
  timeZone: 'Europe/London',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
});

/** Reads London's wall clock (GMT or BST) at an instant. */
export function londonClock(now: Date): LondonClock {
  const parts: Record<string, number> = {};
  for (const p of LONDON.formatToParts(now)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const year = parts.year ?? 1970;
  const month = parts.month ?? 1;
  const day = parts.day ?? 1;
  const hour = parts.hour ?? 0;
  const minute = parts.minute ?? 0;
  const second = parts.second ?? 0;
  const millisecond = ((now.getTime() % 1000) + 1000) % 1000;
  const wallAsUtc = Date.UTC(year, month - 1, day, hour, minute, second);
  const offsetMinutes = Math.round((wallAsUtc - (now.getTime() - millisecond)) / 60000);
  return {
    date: `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`,
    minutes: hour * 60 + minute + (second + millisecond / 1000) / 60,
    hour,
    minute,
    second,
    millisecond,
    offsetMinutes,
  };
}
