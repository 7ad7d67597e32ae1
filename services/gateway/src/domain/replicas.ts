/** A departures replica's answer, as departures sends it. */
export interface ReplicaAnswer {
  board: { trainServices?: unknown[] | null; [field: string]: unknown };
  source: 'upstream' | 'cache' | 'stale';
  ageSeconds: number;
  fetchedAt: string;
  staleReason?: string;
}

export interface BoardQuery {
  from: string;
  to: string;
  rows: number;
}

/** What asking one replica gave. */
export type ReplicaResult =
  | { kind: 'answer'; answer: ReplicaAnswer }
  /** The replica could not serve (503 from it, connection refused, timeout, open circuit). */
  | {
      kind: 'failed';
      reason: string;
      bannedUntil?: number | undefined;
      retryAfterSeconds?: number | undefined;
    }
  /** The replica rejected the request itself (4xx): asking another one would not help. */
  | { kind: 'rejected'; status: number; body: unknown };

export interface Replica {
  readonly name: string;
}

/** The departures replicas as the gateway's domain needs them. */
export interface ReplicaPool<R extends Replica = Replica> {
  /** The next replica to ask, skipping `exclude`; undefined when none can be asked. */
  pick(exclude: ReadonlySet<R>): R | undefined;
  ask(replica: R, query: BoardQuery): Promise<ReplicaResult>;
  /** The replica said it is banned (a stale answer because of a ban): stop sending it traffic. */
  markBanned(replica: R, until: number | undefined): void;
  /** When the earliest known ban ends, if every replica is banned. */
  earliestBanEnd(): number | undefined;
}
