export interface DemandOptions {
  /** A route is in demand while it was asked for at least twice within this many seconds. */
  recentSeconds: number;
  /** Most routes remembered; the least recently asked are forgotten first. */
  maxRoutes: number;
}

interface Route<Q> {
  query: Q;
  lastAskedAt: number;
  previousAskedAt: number | undefined;
  /** No refresh-ahead before this (set after one failed). */
  notBefore: number;
}

/**
 * Which routes people are asking for. A route is *in demand* when it was asked for at least twice
 * within `recentSeconds` (the ask being counted included): a board page re-asks every 30 s, a
 * one-off lookup or a scan of many routes asks once. Requiring a second ask keeps refresh-ahead and
 * the budget's reserve for boards someone is watching, not for every route anyone ever looked up.
 *
 * Kept in a Map in order of the last ask, so routes not asked for within the window (which cannot
 * be in demand any more until asked again, twice) are dropped from the front; bounded by
 * `maxRoutes`. Time is passed in (ms).
 */
export class DemandTracker<Q> {
  readonly #routes = new Map<string, Route<Q>>();
  readonly #recentMs: number;
  readonly #maxRoutes: number;

  constructor(options: DemandOptions) {
    this.#recentMs = options.recentSeconds * 1000;
    this.#maxRoutes = Math.max(1, options.maxRoutes);
  }

  /** Records an ask for the route; returns whether the route is in demand with it. */
  ask(key: string, query: Q, now: number): boolean {
    const known = this.#routes.get(key);
    this.#routes.delete(key);
    const route: Route<Q> = {
      query,
      lastAskedAt: now,
      previousAskedAt: known?.lastAskedAt,
      notBefore: known?.notBefore ?? 0,
    };
    this.#routes.set(key, route);
    this.prune(now);
    return this.#hot(route, now);
  }

  isInDemand(key: string, now: number): boolean {
    const route = this.#routes.get(key);
    return route !== undefined && this.#hot(route, now);
  }

  /**
   * Routes in demand now (and, when given, passing `which`), counted up to `limit`: the count only
   * matters up to the reserve.
   */
  count(now: number, limit: number, which: (key: string) => boolean = () => true): number {
    let n = 0;
    for (const [key, route] of this.#routes) {
      if (n >= limit) break;
      if (this.#hot(route, now) && which(key)) n += 1;
    }
    return n;
  }

  /** Routes in demand now and not backed off, with the query that fetches them. */
  inDemand(now: number): { key: string; query: Q }[] {
    const found: { key: string; query: Q }[] = [];
    for (const [key, route] of this.#routes) {
      if (this.#hot(route, now) && route.notBefore <= now) found.push({ key, query: route.query });
    }
    return found;
  }

  /** No refresh-ahead of the route before `until` (its last one failed). */
  backOff(key: string, until: number): void {
    const route = this.#routes.get(key);
    if (route) route.notBefore = until;
  }

  /** Forgets routes last asked for longer ago than the window, and the oldest beyond the bound. */
  prune(now: number): void {
    for (const [key, route] of this.#routes) {
      if (now - route.lastAskedAt <= this.#recentMs && this.#routes.size <= this.#maxRoutes) break;
      this.#routes.delete(key);
    }
  }

  get size(): number {
    return this.#routes.size;
  }

  #hot(route: Route<Q>, now: number): boolean {
    return route.previousAskedAt !== undefined && now - route.previousAskedAt <= this.#recentMs;
  }
}
