import { MAX_ROWS, type StaleReason, type StationBoard } from '@failway/contract';
import { trace } from '@opentelemetry/api';
import {
  type BoardQuery,
  type Replica,
  type ReplicaAnswer,
  type ReplicaPool,
  routeKey,
  type SkipReason,
} from './replicas.ts';
import type { LastGoodStore } from './stale-store.ts';

function trimmed(answer: GatewayAnswer, rows: number): GatewayAnswer {
  const services = answer.board.trainServices;
  return services
    ? { ...answer, board: { ...answer.board, trainServices: services.slice(0, rows) } }
    : answer;
}

export interface GatewayAnswer {
  board: StationBoard;
  source: ReplicaAnswer['source'];
  ageSeconds: number;
  fetchedAt: string;
  /** Why the board is stale: the replica's reason, or `replicas_unavailable` for the gateway's own. */
  staleReason?: StaleReason | 'replicas_unavailable';
  stale: boolean;
  /** The replica that answered, or `gateway` for the gateway's own last good board. */
  servedBy: string;
}

/**
 * Why no board could be given: every replica is banned, the replicas that could answer have all
 * spent their upstream call budget, or no replica could answer (failures, none ready).
 */
export type NoBoardReason = 'banned' | 'budget_exhausted' | 'unavailable';

/** No replica could give a board and the gateway has none for the route. */
export class NoBoardError extends Error {
  readonly retryAfterSeconds: number;
  readonly reason: NoBoardReason;

  constructor(retryAfterSeconds: number, reason: NoBoardReason) {
    super(
      reason === 'banned'
        ? 'every departures replica is banned'
        : reason === 'budget_exhausted'
          ? 'every departures replica that could answer has spent its upstream budget'
          : 'no departures replica could answer',
    );
    this.name = 'NoBoardError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    this.reason = reason;
  }

  get allBanned(): boolean {
    return this.reason === 'banned';
  }
}

export interface BoardsObserver {
  retried(): void;
  staleServed(origin: 'replica' | 'gateway'): void;
  /** A replica other than the route's first-ranked one served it; `reason` says why the owner did not. */
  affinityMiss(reason: SkipReason): void;
}

export interface BoardsOptions {
  /** Off: no ban-aware choice, no retry, no last-good fallback (the load tests' control run). */
  failover: boolean;
  /** Retry-After when no replica could answer for another reason than bans or budgets. */
  fallbackRetryAfterSeconds: number;
  /**
   * A stale answer is worth asking another replica for a fresh one only when it came this fast: a
   * banned replica answers stale at once, but a slow stale answer means the upstream itself is
   * slow (it waited out its own timeout), and another replica would make the caller wait as long
   * again for the same result.
   */
  staleRetryWithinMs: number;
}

/** Real failures (timeouts, errors) one request may meet before it stops asking: one retry. */
const MAX_FAILURES = 2;

/**
 * A board for a route from whichever replica can give a fresh one. The route's owner (first in
 * the pool's ranking for it) is asked first; a replica that is banned or out of upstream budget
 * is left for the next-ranked one (each replica at most once); a replica that fails gets one
 * retry elsewhere (GET is idempotent); a stale answer is kept as the fallback. With nothing
 * fresh, the youngest stale answer, else the gateway's own last good board, else NoBoardError.
 */
export class GatewayBoards<R extends Replica> {
  readonly #pool: ReplicaPool<R>;
  readonly #store: LastGoodStore;
  readonly #observer: BoardsObserver;
  readonly #options: BoardsOptions;
  readonly #clock: () => number;

  constructor(
    pool: ReplicaPool<R>,
    store: LastGoodStore,
    observer: BoardsObserver,
    options: BoardsOptions,
    clock: () => number = Date.now,
  ) {
    this.#pool = pool;
    this.#store = store;
    this.#observer = observer;
    this.#options = options;
    this.#clock = clock;
  }

  /** Whether the gateway holds a good board for the route (it has been served before, recently). */
  knows(query: Pick<BoardQuery, 'from' | 'to'>): boolean {
    return this.#store.recall(routeKey(query), this.#clock()) !== undefined;
  }

  async getBoard(
    query: BoardQuery,
  ): Promise<GatewayAnswer | { rejected: { status: number; body: unknown } }> {
    const key = routeKey(query);
    const { failover } = this.#options;
    const span = trace.getActiveSpan();
    const tried = new Set<R>();
    const owner = failover ? this.#pool.owner(key) : undefined;
    // Why the owner did not serve: its state now, or what it answered once asked.
    let ownerSkipped: SkipReason | undefined = owner ? this.#pool.unavailableBecause(owner) : undefined;
    let fallback: { answer: GatewayAnswer; replica: R } | undefined;
    const budgetRetryAfter: number[] = [];
    let failures = 0;
    const attempts = failover ? Math.max(1, this.#pool.size()) : 1;
    const started = this.#clock();
    for (let attempt = 0; attempt < attempts; attempt++) {
      const replica = this.#pool.pick(key, tried);
      if (!replica) break;
      tried.add(replica);
      if (attempt > 0) {
        this.#observer.retried();
        span?.setAttribute('gateway.retries', attempt);
      }
      span?.setAttribute('gateway.member', replica.name);
      // Always the most rows, so the last good board serves any request.
      const result = await this.#pool.ask(replica, { ...query, rows: MAX_ROWS });
      if (result.kind === 'rejected') return { rejected: { status: result.status, body: result.body } };
      if (result.kind === 'unavailable') {
        // Banned (the pool has marked it) or out of budget: not broken, just unable; ask the next.
        if (replica === owner) ownerSkipped = result.reason;
        if (result.reason === 'budget_exhausted')
          budgetRetryAfter.push(result.retryAfterSeconds ?? this.#options.fallbackRetryAfterSeconds);
        continue;
      }
      if (result.kind === 'failed') {
        if (replica === owner) ownerSkipped = 'failed';
        if (++failures >= MAX_FAILURES) break;
        continue;
      }
      const answer: GatewayAnswer = {
        board: result.answer.board,
        source: result.answer.source,
        ageSeconds: result.answer.ageSeconds,
        fetchedAt: result.answer.fetchedAt,
        ...(result.answer.staleReason ? { staleReason: result.answer.staleReason } : {}),
        stale: result.answer.source === 'stale',
        servedBy: replica.name,
      };
      if (!answer.stale) {
        // Kept whatever FAILOVER says: it also tells which routes are known (new-route limit).
        this.#store.remember(key, result.answer);
        this.#servedBy(replica, owner, ownerSkipped);
        return trimmed(answer, query.rows);
      }
      // A stale answer means that replica cannot reach the upstream; another may still can.
      if (answer.staleReason === 'banned') this.#pool.markBanned(replica, undefined);
      if (replica === owner)
        ownerSkipped =
          answer.staleReason === 'banned' || answer.staleReason === 'budget_exhausted'
            ? answer.staleReason
            : 'stale';
      if (!fallback || answer.ageSeconds < fallback.answer.ageSeconds) fallback = { answer, replica };
      if (!failover || this.#clock() - started > this.#options.staleRetryWithinMs) break;
    }
    if (fallback) {
      this.#observer.staleServed('replica');
      this.#servedBy(fallback.replica, owner, ownerSkipped);
      return trimmed(fallback.answer, query.rows);
    }
    const now = this.#clock();
    const kept = failover ? this.#store.recall(key, now) : undefined;
    if (kept) {
      this.#observer.staleServed('gateway');
      span?.setAttribute('gateway.member', 'gateway');
      const ageSeconds = Math.max(0, Math.round((now - Date.parse(kept.fetchedAt)) / 1000));
      return trimmed(
        {
          board: kept.board,
          source: 'stale',
          stale: true,
          ageSeconds,
          fetchedAt: kept.fetchedAt,
          staleReason: 'replicas_unavailable',
          servedBy: 'gateway',
        },
        query.rows,
      );
    }
    const banEnd = this.#pool.earliestBanEnd();
    const banSeconds = banEnd === undefined ? undefined : (banEnd - now) / 1000;
    if (budgetRetryAfter.length > 0) {
      // Replicas out of budget get some back soon: that, not a ban's end, is when to ask again.
      const soonest = Math.min(...budgetRetryAfter);
      if (failures === 0) throw new NoBoardError(soonest, 'budget_exhausted');
      throw new NoBoardError(Math.min(soonest, this.#options.fallbackRetryAfterSeconds), 'unavailable');
    }
    if (banSeconds !== undefined) throw new NoBoardError(banSeconds, 'banned');
    throw new NoBoardError(this.#options.fallbackRetryAfterSeconds, 'unavailable');
  }

  #servedBy(replica: R, owner: R | undefined, ownerSkipped: SkipReason | undefined): void {
    if (owner && replica !== owner) this.#observer.affinityMiss(ownerSkipped ?? 'failed');
  }
}
