import { errorKind, withSpan } from '@failway/telemetry/spans';
import { type BanState, type BanStyle, BanTracker, classifyUpstream, type UpstreamResponse } from './ban.ts';
import { firstRows, type StationBoard } from './board.ts';
import { type CallKind, UpstreamBudget } from './budget.ts';
import { BoardCache, type CachedBoard } from './cache.ts';
import { Coalescer } from './coalesce.ts';
import { DemandTracker } from './demand.ts';

export interface BoardQuery {
  crs: string;
  to?: string | undefined;
  rows: number;
}

export type BoardSource = 'upstream' | 'cache' | 'stale';
export type UnavailableReason = 'banned' | 'budget_exhausted' | 'upstream_error';

export interface BoardAnswer {
  board: StationBoard;
  source: BoardSource;
  ageSeconds: number;
  fetchedAt: string;
  /** Why a stale board was served instead of a fresh one. */
  staleReason?: UnavailableReason;
}

/** No board can be had now; `retryAfterSeconds` says when asking again makes sense. */
export class BoardUnavailableError extends Error {
  readonly reason: UnavailableReason;
  readonly retryAfterSeconds: number;
  readonly bannedUntil: number | undefined;

  constructor(
    reason: UnavailableReason,
    retryAfterSeconds: number,
    options: { bannedUntil?: number; cause?: unknown } = {},
  ) {
    super(`no board available: ${reason}`, { cause: options.cause });
    this.name = 'BoardUnavailableError';
    this.reason = reason;
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
    this.bannedUntil = options.bannedUntil;
  }
}

/** The rail data API, as the domain needs it. Network failures and timeouts are thrown. */
export interface RailApi {
  getDepartureBoard(query: {
    crs: string;
    filterCrs?: string | undefined;
    numRows: number;
  }): Promise<UpstreamResponse>;
}

export type UpstreamCallOutcome = 'success' | 'banned' | 'error' | 'timeout';

/** Who a request's upstream call was for: a route in demand, or a cold one (see UpstreamBudget). */
export type RequestKind = Extract<CallKind, 'demand' | 'cold'>;

/** What one refresh-ahead of a route came to. */
export type RefreshAheadOutcome = 'refreshed' | 'skipped_budget' | 'failed';

/**
 * What a ban probe did: `no-budget` made no upstream call (the budget was empty; the probe is
 * retried once a token is back), `error` asked but got no verdict (timeout, 5xx).
 */
export type ProbeOutcome = 'not-banned' | 'not-due' | 'no-budget' | 'still-banned' | 'ban-over' | 'error';

/** What the service tells the outside about itself (metrics, logs); no effect on behaviour. */
export interface DeparturesObserver {
  cacheLookup(result: 'hit' | 'miss' | 'stale'): void;
  upstreamCall(outcome: UpstreamCallOutcome, detail: string): void;
  banStarted(ban: BanState, announced: boolean): void;
  banEnded(ban: BanState): void;
  /** A request's upstream call was not made: the budget had no token for its kind. */
  budgetExhausted(kind: RequestKind): void;
  coalesced(): void;
  served(source: BoardSource, ageSeconds: number): void;
  refreshAhead(outcome: RefreshAheadOutcome): void;
  /** A ban probe that was due ran (every outcome but not-banned and not-due). */
  banProbe(outcome: Exclude<ProbeOutcome, 'not-banned' | 'not-due'>, ban: BanState): void;
}

/**
 * Refresh-ahead starts once a board has lived this share of the TTL (so in its last 20 %): late
 * enough that a board is renewed about once per TTL, early enough that a few ticks can try.
 */
export const REFRESH_AHEAD_LEAD = 0.2;
/** How often `refreshAhead` is meant to run (the timer in main.ts). */
export const REFRESH_AHEAD_TICK_MS = 1_000;

export interface DeparturesOptions {
  cacheTtlSeconds: number;
  staleMaxAgeSeconds: number;
  cacheMaxEntries: number;
  budgetCapacity: number;
  budgetPerMinute: number;
  assumedBanSeconds: number;
  /** Longest ban believed, whatever the upstream announces (and longest assumed). */
  maxBanSeconds: number;
  detectSilentBans: boolean;
  /** Rows asked of the upstream: the most any caller may ask for, so one cached board serves all. */
  upstreamRows: number;
  /** Seconds to wait before retrying after an upstream error when no board can be served. */
  errorRetryAfterSeconds: number;
  /**
   * While banned, ask the upstream again this often anyway (0: only when the ban's expiry passes),
   * so a ban lifted early is noticed: readiness keeps traffic away, so no request would find out.
   */
  banProbeIntervalSeconds: number;
  /**
   * Demand first: renew boards of routes in demand shortly before they expire (`refreshAhead`),
   * and hold back a reserve of the budget from cold routes. Off: one plain budget, as before.
   */
  refreshAhead: boolean;
  /** Share of the budget's capacity (0–0.9) held back from cold routes for routes in demand. */
  refreshAheadShare: number;
  /** A route asked for twice within this many seconds is in demand. */
  refreshAheadRecentSeconds: number;
}

/**
 * Departure boards with the upstream kept at arm's length: fresh cache hits first, one upstream
 * call per route at a time, a call budget under the upstream's limit spent on the routes people
 * are asking for first (refresh-ahead and a reserve cold routes cannot take; see UpstreamBudget),
 * bans detected and waited out, and stale boards (up to a max age) when the upstream cannot be asked.
 */
export class DeparturesService {
  readonly #api: RailApi;
  readonly #observer: DeparturesObserver;
  readonly #options: DeparturesOptions;
  readonly #clock: () => number;
  readonly #cache: BoardCache;
  readonly #coalescer = new Coalescer<CachedBoard>();
  readonly #budget: UpstreamBudget;
  readonly #demand: DemandTracker<BoardQuery>;
  readonly #bans = new BanTracker();
  /** Refresh-ahead calls in flight; at most `#refreshAheadSlots`. */
  #refreshAheadInFlight = 0;
  readonly #refreshAheadSlots: number;
  /** The route whose upstream call found the ban: the one to probe with. */
  #probeQuery: { key: string; query: BoardQuery } | undefined;
  #nextProbeAt = 0;

  constructor(
    api: RailApi,
    observer: DeparturesObserver,
    options: DeparturesOptions,
    clock: () => number = Date.now,
  ) {
    this.#api = api;
    this.#observer = observer;
    this.#options = options;
    this.#clock = clock;
    this.#cache = new BoardCache({
      ttlSeconds: options.cacheTtlSeconds,
      staleMaxAgeSeconds: options.staleMaxAgeSeconds,
      maxEntries: options.cacheMaxEntries,
    });
    this.#budget = new UpstreamBudget(
      {
        capacity: options.budgetCapacity,
        refillPerSecond: options.budgetPerMinute / 60,
        reserveShare: options.refreshAhead ? options.refreshAheadShare : 0,
      },
      clock(),
    );
    this.#demand = new DemandTracker({
      recentSeconds: options.refreshAheadRecentSeconds,
      maxRoutes: options.cacheMaxEntries,
    });
    this.#refreshAheadSlots = Math.max(1, this.#budget.maxReserve);
  }

  /**
   * Whether `refreshAhead` does anything: on, and the refresh window (the last 20 % of the TTL) at
   * least one timer tick long. A shorter window could fall between two ticks, and a TTL that short
   * would renew every route in demand every few seconds; the cache does the job alone then.
   */
  get refreshAheadActive(): boolean {
    return (
      this.#options.refreshAhead &&
      this.#options.cacheTtlSeconds * REFRESH_AHEAD_LEAD * 1000 >= REFRESH_AHEAD_TICK_MS
    );
  }

  /** Tokens held back from cold routes right now. */
  budgetReserve(): number {
    return this.#budget.reserve(this.#needingTokensSoon(this.#clock()));
  }

  /**
   * Routes in demand that will want an upstream call within the budget's horizon (counted up to
   * the most the reserve can be): no board kept, or a board due for renewal by then — in the last
   * 20 % of its TTL with refresh-ahead running, else at the end of its TTL (the next ask).
   */
  #needingTokensSoon(now: number): number {
    const dueAfterMs =
      this.#options.cacheTtlSeconds * (this.refreshAheadActive ? 1 - REFRESH_AHEAD_LEAD : 1) * 1000;
    const by = now + this.#budget.horizonMs;
    return this.#demand.count(now, this.#budget.maxReserve, (key) => {
      const entry = this.#cache.peek(key, now);
      return entry === undefined || entry.fetchedAt + dueAfterMs <= by;
    });
  }

  /**
   * One round of refresh-ahead (called every REFRESH_AHEAD_TICK_MS): renews the boards of routes in
   * demand that are in the last 20 % of their TTL (or past it), oldest first, so the next asker
   * gets a fresh board without waiting for the upstream. Bounded: at most `#refreshAheadSlots`
   * calls in flight, one per route (a request for the route joins it), none while banned, and a
   * route whose refresh failed waits `errorRetryAfterSeconds` before the next try. A renewal the
   * budget has no token for is skipped, not queued. Resolves once the calls it started are done.
   */
  async refreshAhead(): Promise<Record<RefreshAheadOutcome, number>> {
    const counts: Record<RefreshAheadOutcome, number> = { refreshed: 0, skipped_budget: 0, failed: 0 };
    if (!this.refreshAheadActive) return counts;
    const now = this.#clock();
    if (this.#bans.isBanned(now)) return counts;
    this.#demand.prune(now);
    const dueAfterMs = this.#options.cacheTtlSeconds * (1 - REFRESH_AHEAD_LEAD) * 1000;
    const due: { key: string; query: BoardQuery; fetchedAt: number }[] = [];
    for (const { key, query } of this.#demand.inDemand(now)) {
      if (this.#coalescer.has(key)) continue;
      const entry = this.#cache.peek(key, now);
      if (entry && now - entry.fetchedAt >= dueAfterMs) due.push({ key, query, fetchedAt: entry.fetchedAt });
    }
    due.sort((a, b) => a.fetchedAt - b.fetchedAt);
    const calls: Promise<void>[] = [];
    const note = (outcome: RefreshAheadOutcome) => {
      counts[outcome] += 1;
      this.#observer.refreshAhead(outcome);
    };
    const slots = Math.max(0, this.#refreshAheadSlots - this.#refreshAheadInFlight);
    for (const { key, query } of due.slice(0, slots)) {
      if (!this.#budget.tryTake('refresh_ahead', now, 0)) {
        note('skipped_budget');
        continue;
      }
      this.#refreshAheadInFlight += 1;
      calls.push(
        this.#refresh(key, query, 'refresh_ahead', true)
          .then(
            () => note('refreshed'),
            () => {
              note('failed');
              this.#demand.backOff(key, this.#clock() + this.#options.errorRetryAfterSeconds * 1000);
            },
          )
          .finally(() => {
            this.#refreshAheadInFlight -= 1;
          }),
      );
    }
    await Promise.all(calls);
    return counts;
  }

  /** The active ban, if the upstream has banned this replica. */
  ban(): BanState | undefined {
    return this.#bans.active(this.#clock());
  }

  /**
   * While banned, makes one upstream call once the probe interval has passed; a board ends the
   * ban early. Called on a timer; does nothing when not banned or not yet due. With no token in
   * the budget it makes no call and says so (`no-budget`), and tries again once one is back.
   */
  async probeBan(): Promise<ProbeOutcome> {
    const now = this.#clock();
    const ban = this.#bans.active(now);
    if (!ban || !this.#probeQuery) return 'not-banned';
    if (this.#options.banProbeIntervalSeconds <= 0 || now < this.#nextProbeAt) return 'not-due';
    if (!this.#budget.tryTake('probe', now, 0)) {
      const wait = this.#budget.secondsUntilToken('probe', now, 0);
      this.#nextProbeAt = now + Math.max(REFRESH_AHEAD_TICK_MS, Math.ceil(wait * 1000));
      this.#observer.banProbe('no-budget', ban);
      return 'no-budget';
    }
    this.#nextProbeAt = now + this.#options.banProbeIntervalSeconds * 1000;
    const { key, query } = this.#probeQuery;
    let outcome: Exclude<ProbeOutcome, 'not-banned' | 'not-due'>;
    try {
      await this.#refresh(key, query, 'probe', true);
      outcome = 'ban-over';
    } catch (error) {
      if (!this.#bans.isBanned(this.#clock())) outcome = 'ban-over';
      else if (error instanceof BoardUnavailableError && error.reason === 'banned') outcome = 'still-banned';
      else outcome = 'error';
    }
    this.#observer.banProbe(outcome, ban);
    return outcome;
  }

  budgetTokens(): number {
    return this.#budget.tokens(this.#clock());
  }

  async getBoard(query: BoardQuery): Promise<BoardAnswer> {
    const key = `${query.crs}>${query.to ?? '*'}`;
    const kind: RequestKind = this.#demand.ask(key, query, this.#clock()) ? 'demand' : 'cold';
    return withSpan(
      'departures.get_board',
      { 'rail.crs': query.crs, 'rail.filter_crs': query.to ?? '' },
      async (span) => {
        const lookup = await withSpan('cache.lookup', { 'cache.key': key }, (cacheSpan) => {
          const found = this.#cache.lookup(key, this.#clock());
          cacheSpan.setAttribute('cache.result', found.result);
          return found;
        });
        span.setAttribute('cache.result', lookup.result);
        this.#observer.cacheLookup(lookup.result);
        if (lookup.result === 'hit') return this.#answer(lookup.entry, 'cache', query.rows);
        try {
          const entry = await this.#refresh(key, query, kind);
          return this.#answer(entry, 'upstream', query.rows);
        } catch (error) {
          if (!(error instanceof BoardUnavailableError)) throw error;
          span.setAttribute('upstream.banned', error.reason === 'banned');
          // Stale-if-error: the board may have aged past the max while we waited, so look again.
          const stale = this.#cache.lookup(key, this.#clock());
          if (stale.result === 'miss') throw error;
          return this.#answer(stale.entry, 'stale', query.rows, error.reason);
        }
      },
    );
  }

  #answer(
    entry: CachedBoard,
    source: BoardSource,
    rows: number,
    staleReason?: UnavailableReason,
  ): BoardAnswer {
    const ageSeconds = Math.max(0, Math.round((this.#clock() - entry.fetchedAt) / 1000));
    this.#observer.served(source, ageSeconds);
    return {
      board: firstRows(entry.board, rows),
      source,
      ageSeconds,
      fetchedAt: new Date(entry.fetchedAt).toISOString(),
      ...(staleReason ? { staleReason } : {}),
    };
  }

  /** One upstream call per route at a time; `tokenTaken` when the caller already took its token. */
  #refresh(key: string, query: BoardQuery, kind: CallKind, tokenTaken = false): Promise<CachedBoard> {
    const { promise, joined } = this.#coalescer.run(key, () => this.#fetch(key, query, kind, tokenTaken));
    if (joined) this.#observer.coalesced();
    return promise;
  }

  async #fetch(key: string, query: BoardQuery, kind: CallKind, tokenTaken: boolean): Promise<CachedBoard> {
    const now = this.#clock();
    const ban = this.#bans.active(now);
    if (ban && kind !== 'probe')
      throw new BoardUnavailableError('banned', (ban.until - now) / 1000, { bannedUntil: ban.until });
    if (!tokenTaken) {
      // Routes in demand only matter to a cold call.
      const inDemand = kind === 'cold' ? this.#needingTokensSoon(now) : 0;
      if (!this.#budget.tryTake(kind, now, inDemand)) {
        if (kind === 'demand' || kind === 'cold') this.#observer.budgetExhausted(kind);
        throw new BoardUnavailableError(
          'budget_exhausted',
          this.#budget.secondsUntilToken(kind, now, inDemand),
        );
      }
    }
    return withSpan(
      'rail-api GetDepBoardWithDetails',
      { 'peer.service': 'rail-sim', 'rail.crs': query.crs, 'rail.filter_crs': query.to ?? '' },
      async (span) => {
        let response: UpstreamResponse;
        try {
          response = await this.#api.getDepartureBoard({
            crs: query.crs,
            filterCrs: query.to,
            numRows: this.#options.upstreamRows,
          });
        } catch (error) {
          // A body over the client's size limit is an error of the upstream (the client's own
          // metric labels it too_large).
          const kind = errorKind(error) === 'timeout' ? 'timeout' : 'error';
          this.#observer.upstreamCall(kind, (error as Error).message);
          span.setAttribute('upstream.outcome', kind);
          throw new BoardUnavailableError('upstream_error', this.#options.errorRetryAfterSeconds, {
            cause: error,
          });
        }
        const outcome = classifyUpstream(response, this.#clock(), {
          assumedBanSeconds: this.#options.assumedBanSeconds,
          maxBanSeconds: this.#options.maxBanSeconds,
          detectSilentBans: this.#options.detectSilentBans,
          previousBoard: this.#cache.peek(key, this.#clock())?.board,
        });
        span.setAttribute('upstream.banned', outcome.kind === 'banned');
        span.setAttribute('http.response.status_code', response.status);
        switch (outcome.kind) {
          case 'board': {
            this.#observer.upstreamCall('success', 'board');
            span.setAttribute('upstream.outcome', 'success');
            const ended = this.#bans.clear(now);
            if (ended) {
              this.#probeQuery = undefined;
              this.#observer.banEnded(ended);
            }
            return this.#cache.store(key, outcome.board, this.#clock());
          }
          case 'banned':
            return this.#banned(outcome.style, outcome.until, outcome.announced, span, { key, query });
          case 'error':
            this.#observer.upstreamCall('error', outcome.reason);
            span.setAttribute('upstream.outcome', 'error');
            throw new BoardUnavailableError('upstream_error', this.#options.errorRetryAfterSeconds);
        }
      },
    );
  }

  #banned(
    style: BanStyle,
    until: number,
    announced: boolean,
    span: { setAttribute(k: string, v: string | number): void },
    probeWith: { key: string; query: BoardQuery },
  ): never {
    const now = this.#clock();
    this.#observer.upstreamCall('banned', style);
    span.setAttribute('upstream.outcome', 'banned');
    span.setAttribute('upstream.ban_style', style);
    span.setAttribute('upstream.banned_until', new Date(until).toISOString());
    this.#probeQuery = probeWith;
    if (this.#bans.ban(style, until, now)) {
      this.#nextProbeAt = now + this.#options.banProbeIntervalSeconds * 1000;
      const active = this.#bans.active(now);
      if (active) this.#observer.banStarted(active, announced);
    }
    throw new BoardUnavailableError('banned', (until - now) / 1000, { bannedUntil: until });
  }
}
