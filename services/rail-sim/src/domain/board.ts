import { delayAtCall, incidentFor, nrccMessage, type ServiceState, serviceState } from './disruption.ts';
import { findStation, locationName } from './stations.ts';
import {
  type Call,
  type Departure,
  formatHhmm,
  getTimetable,
  type LondonClock,
  londonClock,
  serviceIdFor,
  shiftDate,
  type Trip,
} from './timetable.ts';

/** A later stop of a service, as in LDBWS subsequentCallingPoints. */
export interface CallingPoint {
  locationName: string;
  crs: string;
  st: string;
  et: string | null;
  at: string | null;
  isCancelled: boolean;
  length: number;
  detachFront: boolean;
  formation: null;
  adhocAlerts: null;
}

/** An origin or destination of a service. */
export interface ServiceLocation {
  locationName: string;
  crs: string;
  via: string | null;
  futureChangeTo: null;
  assocIsCancelled: boolean;
}

/** One departure on an LDBWS board (GetDepBoardWithDetails). */
export interface TrainService {
  previousCallingPoints: null;
  subsequentCallingPoints: {
    callingPoint: CallingPoint[];
    serviceType: 0;
    serviceChangeRequired: boolean;
    assocIsCancelled: boolean;
  }[];
  formation: null;
  origin: ServiceLocation[];
  destination: ServiceLocation[];
  currentOrigins: null;
  currentDestinations: null;
  rsid: string;
  sta: string | null;
  eta: string | null;
  std: string;
  etd: string;
  platform: string | null;
  operator: string;
  operatorCode: string;
  isCircularRoute: boolean;
  isCancelled: boolean;
  filterLocationCancelled: boolean;
  serviceType: 0;
  length: number;
  detachFront: boolean;
  isReverseFormation: boolean;
  cancelReason: string | null;
  delayReason: string | null;
  serviceID: string;
  adhocAlerts: null;
}

/** An LDBWS station board. */
export interface StationBoard {
  trainServices: TrainService[] | null;
  busServices: null;
  ferryServices: null;
  generatedAt: string;
  locationName: string;
  crs: string;
  filterLocationName: string | null;
  filtercrs: string | null;
  filterType: 0 | 1;
  nrccMessages: { value: string }[] | null;
  platformAvailable: boolean;
  areServicesAvailable: boolean;
}

/** A board request; window bounds are minutes relative to `now`. */
export interface BoardQuery {
  crs: string;
  numRows: number;
  filterCrs?: string | undefined;
  filterType: 'to' | 'from';
  timeOffset: number;
  timeWindow: number;
  now: Date;
  seed: string;
  disruption: boolean;
}

interface Candidate {
  departure: Departure;
  /** Departure minute relative to midnight of today's London date. */
  at: number;
  state: ServiceState;
}

function generatedAt(clock: LondonClock): string {
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const sign = clock.offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(clock.offsetMinutes);
  return (
    `${clock.date}T${pad(clock.hour)}:${pad(clock.minute)}:${pad(clock.second)}.${pad(clock.millisecond, 3)}0000` +
    `${sign}${pad(Math.floor(off / 60))}:${pad(off % 60)}`
  );
}

function place(crs: string): ServiceLocation {
  return {
    locationName: locationName(crs) ?? crs,
    crs,
    via: null,
    futureChangeTo: null,
    assocIsCancelled: false,
  };
}

function passesFilter(trip: Trip, callIndex: number, filterCrs: string | null, type: 'to' | 'from'): boolean {
  if (filterCrs === null) return true;
  const calls = type === 'to' ? trip.calls.slice(callIndex + 1) : trip.calls.slice(0, callIndex);
  return calls.some((c) => c.crs === filterCrs);
}

function estimate(state: ServiceState, scheduled: number, delay: number | null): string {
  if (state.status === 'cancelled') return 'Cancelled';
  if (delay === null) return 'Delayed';
  return delay === 0 ? 'On time' : formatHhmm(scheduled + delay);
}

function callingPoint(trip: Trip, call: Call, index: number, state: ServiceState): CallingPoint {
  const scheduled = call.arr ?? call.dep ?? 0;
  return {
    locationName: locationName(call.crs) ?? call.crs,
    crs: call.crs,
    st: formatHhmm(scheduled),
    et: estimate(state, scheduled, delayAtCall(state, index, trip.calls.length)),
    at: null,
    isCancelled: state.status === 'cancelled',
    length: trip.length,
    detachFront: false,
    formation: null,
    adhocAlerts: null,
  };
}

function trainService(c: Candidate, crs: string, filtered: boolean): TrainService {
  const { trip, callIndex } = c.departure;
  const call = trip.calls[callIndex];
  if (!call || call.dep === null) throw new Error(`trip ${trip.uid} does not depart ${crs}`);
  const { state } = c;
  const delay = delayAtCall(state, callIndex, trip.calls.length);
  const cancelled = state.status === 'cancelled';
  const late = state.status === 'delayed' || (delay ?? 0) > 0;
  const first = trip.calls[0];
  const last = trip.calls[trip.calls.length - 1];
  return {
    previousCallingPoints: null,
    subsequentCallingPoints: [
      {
        callingPoint: trip.calls
          .slice(callIndex + 1)
          .map((later, i) => callingPoint(trip, later, callIndex + 1 + i, state)),
        serviceType: 0,
        serviceChangeRequired: false,
        assocIsCancelled: false,
      },
    ],
    formation: null,
    origin: first ? [place(first.crs)] : [],
    destination: last ? [place(last.crs)] : [],
    currentOrigins: null,
    currentDestinations: null,
    rsid: trip.rsid,
    sta: call.arr === null ? null : formatHhmm(call.arr),
    eta: call.arr === null ? null : estimate(state, call.arr, delay),
    std: formatHhmm(call.dep),
    etd: estimate(state, call.dep, delay),
    platform: call.platform,
    operator: 'Thameslink',
    operatorCode: 'TL',
    isCircularRoute: false,
    isCancelled: cancelled,
    filterLocationCancelled: cancelled && filtered,
    serviceType: 0,
    length: trip.length,
    detachFront: false,
    isReverseFormation: false,
    cancelReason: cancelled ? state.reason : null,
    delayReason: !cancelled && late ? state.reason : null,
    serviceID: serviceIdFor(trip, crs),
    adhocAlerts: null,
  };
}

/** A board for the station with no services, as served when the caller is silently banned. */
export function emptyBoard(crs: string, now: Date): StationBoard {
  const code = crs.toUpperCase();
  return {
    trainServices: null,
    busServices: null,
    ferryServices: null,
    generatedAt: generatedAt(londonClock(now)),
    locationName: findStation(code)?.name ?? code,
    crs: code,
    filterLocationName: null,
    filtercrs: null,
    filterType: 0,
    nrccMessages: null,
    platformAvailable: true,
    areServicesAvailable: true,
  };
}

/**
 * The departure board for `q.crs` at `q.now`: services whose std (London time) falls within
 * [now + timeOffset, now + timeOffset + timeWindow], sorted by std, at most numRows; null for an unknown CRS.
 */
export function buildBoard(q: BoardQuery): StationBoard | null {
  const station = findStation(q.crs);
  if (!station) return null;
  const clock = londonClock(q.now);
  const filterCrs = q.filterCrs ? q.filterCrs.toUpperCase() : null;
  const start = Math.floor(clock.minutes) + q.timeOffset;
  const end = start + q.timeWindow;

  const candidates: Candidate[] = [];
  // Yesterday's late-evening trips run past midnight; tomorrow's only matter for windows reaching past it.
  for (const day of [-1, 0, 1]) {
    const serviceDate = shiftDate(clock.date, day);
    const departures = getTimetable(q.seed, serviceDate).departuresByCrs.get(station.crs) ?? [];
    const shift = day * 1440;
    for (const departure of departures) {
      const at = departure.dep + shift;
      if (at < start) continue;
      if (at > end) break;
      if (!passesFilter(departure.trip, departure.callIndex, filterCrs, q.filterType)) continue;
      const state = serviceState(q.seed, serviceDate, departure.trip.uid, q.disruption);
      const delay = delayAtCall(state, departure.callIndex, departure.trip.calls.length);
      // A train expected more than a minute ago has gone; one without an estimate is still waiting.
      if (state.status !== 'delayed' && at + (delay ?? 0) < clock.minutes - 1) continue;
      candidates.push({ departure, at, state });
    }
  }
  candidates.sort((a, b) => a.at - b.at || a.departure.trip.uid.localeCompare(b.departure.trip.uid));
  const rows = candidates.slice(0, Math.max(0, Math.floor(q.numRows)));

  let nrccMessages: { value: string }[] | null = null;
  if (q.disruption) {
    // The estimate moves forward with time: the next half hour plus ninety minutes.
    const until = Math.ceil(clock.minutes / 30) * 30 + 90;
    nrccMessages = [{ value: nrccMessage(incidentFor(q.seed, clock.date), formatHhmm(until)) }];
  }

  return {
    trainServices: rows.length > 0 ? rows.map((c) => trainService(c, station.crs, filterCrs !== null)) : null,
    busServices: null,
    ferryServices: null,
    generatedAt: generatedAt(clock),
    locationName: station.name,
    crs: station.crs,
    filterLocationName: filterCrs === null ? null : locationName(filterCrs),
    filtercrs: filterCrs,
    filterType: q.filterType === 'from' ? 1 : 0,
    nrccMessages,
    platformAvailable: true,
    areServicesAvailable: true,
  };
}
