import { trace } from '@opentelemetry/api';
import type { BoardQuery, Replica, ReplicaAnswer, ReplicaPool } from './replicas.ts';
import type { LastGoodStore } from './stale-store.ts';

/** Replicas are always asked for this many rows, so the last good board serves any request. */
export const MAX_ROWS = 10;

function trimmed<T extends ReplicaAnswer>(answer: T, rows: number): T {
  const services = answer.board.trainServices;
  return services
    ? { ...answer, board: { ...answer.board, trainServices: services.slice(0, rows) } }
    : answer;
}

export interface GatewayAnswer extends ReplicaAnswer {
  stale: boolean;
  /** The replica that answered, or `gateway` for the gateway's own last good board. */
  servedBy: string;
}

/** No replica could give a board and the gateway has none for the route. */
export class NoBoardError extends Error {
  readonly retryAfterSeconds: number;
  readonly allBanned: boolean;

  constructor(retryAfterSeconds: number, allBanned: boolean) {
    super(allBanned ? 'every departures replica is banned' : 'no departures replica could answer');
    this.name = 'NoBoardError';
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    this.allBanned = allBanned;
  }
}

export interface BoardsObserver {
  retried(): void;
  staleServed(origin: 'replica' | 'gateway'): void;
}

export interface BoardsOptions {
  /** Off: no ban-aware choice, no retry, no last-good fallback (the load tests' control run). */
  failover: boolean;
  /** Retry-After when no replica could answer for another reason than bans. */
  fallbackRetryAfterSeconds: number;
  /**
   * A stale answer is worth asking another replica for a fresh one only when it came this fast: a
   * banned replica answers stale at once, but a slow stale answer means the upstream itself is
   * slow (it waited out its own timeout), and another replica would make the caller wait as long
   * again for the same result.
   */
  staleRetryWithinMs: number;
}

/**
 * A board for a route from whichever replica can give a fresh one: a replica that fails or turns
 * out to be banned is left for another (one retry, GET is idempotent); a stale answer is kept as
 * the fallback; with every replica out, the gateway's own last good board, else NoBoardError.
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

  async getBoard(
    query: BoardQuery,
  ): Promise<GatewayAnswer | { rejected: { status: number; body: unknown } }> {
    const key = `${query.from}>${query.to}`;
    const span = trace.getActiveSpan();
    const tried = new Set<R>();
    let fallback: GatewayAnswer | undefined;
    const attempts = this.#options.failover ? 2 : 1;
    const started = this.#clock();
    for (let attempt = 0; attempt < attempts; attempt++) {
      const replica = this.#pool.pick(tried);
      if (!replica) break;
      tried.add(replica);
      if (attempt > 0) {
        this.#observer.retried();
        span?.setAttribute('gateway.retries', attempt);
      }
      span?.setAttribute('gateway.member', replica.name);
      const result = await this.#pool.ask(replica, { ...query, rows: MAX_ROWS });
      if (result.kind === 'rejected') return { rejected: { status: result.status, body: result.body } };
      if (result.kind === 'failed') continue;
      const answer: GatewayAnswer = {
        ...result.answer,
        stale: result.answer.source === 'stale',
        servedBy: replica.name,
      };
      if (!answer.stale) {
        if (this.#options.failover) this.#store.remember(key, result.answer);
        return trimmed(answer, query.rows);
      }
      // A stale answer means that replica cannot reach the upstream; another may still can.
      if (answer.staleReason === 'banned') this.#pool.markBanned(replica, undefined);
      if (!fallback || answer.ageSeconds < fallback.ageSeconds) fallback = answer;
      if (!this.#options.failover || this.#clock() - started > this.#options.staleRetryWithinMs) break;
    }
    if (fallback) {
      this.#observer.staleServed('replica');
      return trimmed(fallback, query.rows);
    }
    const now = this.#clock();
    const kept = this.#options.failover ? this.#store.recall(key, now) : undefined;
    if (kept) {
      this.#observer.staleServed('gateway');
      span?.setAttribute('gateway.member', 'gateway');
      const ageSeconds = Math.max(0, Math.round((now - Date.parse(kept.fetchedAt)) / 1000));
      return trimmed(
        {
          ...kept,
          source: 'stale',
          stale: true,
          ageSeconds,
          staleReason: 'replicas_unavailable',
          servedBy: 'gateway',
        },
        query.rows,
      );
    }
    const banEnd = this.#pool.earliestBanEnd();
    throw new NoBoardError(
      banEnd ? (banEnd - now) / 1000 : this.#options.fallbackRetryAfterSeconds,
      banEnd !== undefined,
    );
  }
}
