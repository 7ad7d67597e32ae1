import { pick, randInt, rng } from './prng.ts';

/** How a service is running: to time, late with an estimate, late without one, or not at all. */
export type ServiceStatus = 'onTime' | 'late' | 'delayed' | 'cancelled';

/** The real-time state of one trip for a whole service day. */
export interface ServiceState {
  status: ServiceStatus;
  /** Lateness at the trip's first call; 0 unless status is 'late'. */
  delayMinutes: number;
  /** Minutes the train makes up by the end of its run. */
  recoveryMinutes: number;
  /** cancelReason for 'cancelled', delayReason otherwise (may be null for small delays). */
  reason: string | null;
}

/** A line-side incident that explains disruption mode. */
export interface Incident {
  from: string;
  to: string;
  cause: string;
  cancelReason: string;
  delayReason: string;
}

/** Darwin cancellation reasons. */
export const CANCEL_REASONS: readonly string[] = [
  'This train has been cancelled because of a shortage of train crew',
  'This train has been cancelled because of a fault on this train',
  'This train has been cancelled because of a signalling problem',
  'This train has been cancelled because of a broken down train',
  'This train has been cancelled because of a late running train being in front of this one',
  'This train has been cancelled because of overhead line problems',
];

/** Darwin delay reasons. */
export const DELAY_REASONS: readonly string[] = [
  'This train has been delayed by a late running train being in front of this one',
  'This train has been delayed by a fault with the signalling system',
  'This train has been delayed by a member of staff being taken ill',
  'This train has been delayed by passengers boarding and leaving the train',
  'This train has been delayed by a points failure',
];

const INCIDENTS: readonly Incident[] = [
  {
    from: 'St Albans City',
    to: 'Luton',
    cause: 'a fault with the signalling system',
    cancelReason: 'This train has been cancelled because of a signalling problem',
    delayReason: 'This train has been delayed by a fault with the signalling system',
  },
  {
    from: 'Kentish Town',
    to: 'Mill Hill Broadway',
    cause: 'a broken down train',
    cancelReason: 'This train has been cancelled because of a broken down train',
    delayReason: 'This train has been delayed by a late running train being in front of this one',
  },
  {
    from: 'London Blackfriars',
    to: 'London St Pancras International',
    cause: 'a problem with the overhead electric wires',
    cancelReason: 'This train has been cancelled because of overhead line problems',
    delayReason: 'This train has been delayed by a late running train being in front of this one',
  },
  {
    from: 'Harpenden',
    to: 'Bedford',
    cause: 'a points failure',
    cancelReason: 'This train has been cancelled because of a signalling problem',
    delayReason: 'This train has been delayed by a points failure',
  },
];

interface Mix {
  cancelled: number;
  delayed: number;
  heavy: number;
  light: number;
  maxHeavy: number;
}

const NORMAL: Mix = { cancelled: 0.035, delayed: 0.01, heavy: 0.08, light: 0.17, maxHeavy: 30 };
const DISRUPTED: Mix = { cancelled: 0.25, delayed: 0.05, heavy: 0.3, light: 0.2, maxHeavy: 60 };

/** The incident behind disruption mode on a service day. */
export function incidentFor(seed: string, serviceDate: string): Incident {
  return pick(rng(seed, serviceDate, 'incident'), INCIDENTS);
}

/** The NRCC message shown on boards while an incident lasts. */
export function nrccMessage(incident: Incident, untilHhmm: string): string {
  return (
    `Disruption between ${incident.from} and ${incident.to} is expected until ${untilHhmm}. ` +
    `This is due to ${incident.cause}. Train services running between these stations may be cancelled, ` +
    'delayed by up to 30 minutes or revised. More details can be found in Latest Travel News.'
  );
}

/**
 * The state of one trip, fixed for the day by (seed, service date, serviceKey) and the disruption flag.
 * serviceKey is the station-independent part of the serviceID, so a train is late at every board alike.
 */
export function serviceState(
  seed: string,
  serviceDate: string,
  serviceKey: string,
  disruption: boolean,
): ServiceState {
  const r = rng(seed, serviceDate, serviceKey, disruption ? 'disrupted' : 'normal');
  const mix = disruption ? DISRUPTED : NORMAL;
  const incident = incidentFor(seed, serviceDate);
  // In disruption mode most trouble traces back to the incident.
  const fromIncident = disruption && r() < 0.6;
  const roll = r();
  let edge = mix.cancelled;
  if (roll < edge) {
    return {
      status: 'cancelled',
      delayMinutes: 0,
      recoveryMinutes: 0,
      reason: fromIncident ? incident.cancelReason : pick(r, CANCEL_REASONS),
    };
  }
  const delayReason = fromIncident ? incident.delayReason : pick(r, DELAY_REASONS);
  edge += mix.delayed;
  if (roll < edge) return { status: 'delayed', delayMinutes: 0, recoveryMinutes: 0, reason: delayReason };
  edge += mix.heavy;
  if (roll < edge) {
    // Skewed towards the short end: long delays are rarer.
    const delay = 6 + Math.floor((mix.maxHeavy - 5) * r() ** 2);
    return { status: 'late', delayMinutes: delay, recoveryMinutes: randInt(r, 0, 2), reason: delayReason };
  }
  edge += mix.light;
  if (roll < edge) {
    const delay = randInt(r, 1, 5);
    // Darwin often gives no reason for a minute or two.
    const reason = delay <= 2 && r() < 0.6 ? null : delayReason;
    return { status: 'late', delayMinutes: delay, recoveryMinutes: randInt(r, 0, 1), reason };
  }
  return { status: 'onTime', delayMinutes: 0, recoveryMinutes: 0, reason: null };
}

/**
 * Lateness at the call with this index (of callCount), recovery spread evenly over the run;
 * null when there is no estimate ('delayed' or 'cancelled').
 */
export function delayAtCall(state: ServiceState, callIndex: number, callCount: number): number | null {
  if (state.status === 'delayed' || state.status === 'cancelled') return null;
  if (state.status === 'onTime') return 0;
  const recovered = Math.round((state.recoveryMinutes * callIndex) / Math.max(1, callCount - 1));
  return Math.max(0, state.delayMinutes - recovered);
}
