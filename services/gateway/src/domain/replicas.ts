import type { DeparturesAnswer } from '@failway/contract';

/** A departures replica's answer, as departures sends it (checked against @failway/contract). */
export type ReplicaAnswer = DeparturesAnswer;

export interface BoardQuery {
  from: string;
  to: string;
  rows: number;
}

/** The key a route is known by (cache, last good boards, affinity): `WHP>LTN`. */
export function routeKey(query: Pick<BoardQuery, 'from' | 'to'>): string {
  return `${query.from}>${query.to}`;
}

/** What asking one replica gave. */
export type ReplicaResult =
  | { kind: 'answer'; answer: ReplicaAnswer }
  /**
   * The replica works but cannot get a board for this route now, and said why: it is banned by
   * the upstream, or it has spent its upstream call budget. Not a failure of the replica (no
   * ejection, no circuit breaker count); another replica may still have budget.
   */
  | {
      kind: 'unavailable';
      reason: 'banned' | 'budget_exhausted';
      retryAfterSeconds: number | undefined;
      bannedUntil: number | undefined;
    }
  /**
   * The replica itself failed: connection error, timeout, a 5xx, an answer that is not a board,
   * an open circuit. The replica is ejected (except for an open circuit, which already is).
   */
  | { kind: 'failed'; reason: string; retryAfterSeconds?: number | undefined }
  /** The replica rejected the request itself (4xx): asking another one would not help. */
  | { kind: 'rejected'; status: number; body: unknown };

export interface Replica {
  readonly name: string;
}

/** Why a route's first-ranked replica did not serve a request (bounded: a metric label). */
export type SkipReason = 'banned' | 'ejected' | 'down' | 'budget_exhausted' | 'failed' | 'stale';
export const SKIP_REASONS: readonly SkipReason[] = [
  'banned',
  'ejected',
  'down',
  'budget_exhausted',
  'failed',
  'stale',
];

/** The departures replicas as the gateway's domain needs them. */
export interface ReplicaPool<R extends Replica = Replica> {
  /**
   * The replica to ask for the route `key`, skipping `exclude`: with failover, the best-ranked
   * eligible replica for that route (route affinity), else the next in round robin; undefined
   * when none can be asked.
   */
  pick(key: string, exclude: ReadonlySet<R>): R | undefined;
  /** The route's first-ranked replica whatever its state (its owner), with failover on. */
  owner(key: string): R | undefined;
  /** Why `replica` cannot be picked now, or undefined when it can. */
  unavailableBecause(replica: R): 'banned' | 'ejected' | 'down' | undefined;
  /** How many replicas the pool has (bounds the attempts of one request). */
  size(): number;
  ask(replica: R, query: BoardQuery): Promise<ReplicaResult>;
  /** The replica said it is banned (a stale answer because of a ban): stop sending it traffic. */
  markBanned(replica: R, until: number | undefined): void;
  /** When the earliest known ban ends, if every replica is banned. */
  earliestBanEnd(): number | undefined;
}
