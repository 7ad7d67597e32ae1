import { errorKind, withSpan } from '@failway/telemetry';
import { type BanState, type BanStyle, BanTracker, classifyUpstream, type UpstreamResponse } from './ban.ts';
import { firstRows, type StationBoard, serviceCount } from './board.ts';
import { TokenBucket } from './budget.ts';
import { BoardCache, type CachedBoard } from './cache.ts';
import { Coalescer } from './coalesce.ts';

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

/** What the service tells the outside about itself (metrics, logs); no effect on behaviour. */
export interface DeparturesObserver {
  cacheLookup(result: 'hit' | 'miss' | 'stale'): void;
  upstreamCall(outcome: UpstreamCallOutcome, detail: string): void;
  banStarted(ban: BanState, announced: boolean): void;
  banEnded(ban: BanState): void;
  budgetExhausted(): void;
  coalesced(): void;
  served(source: BoardSource, ageSeconds: number): void;
}

export interface DeparturesOptions {
  cacheTtlSeconds: number;
  staleMaxAgeSeconds: number;
  cacheMaxEntries: number;
  budgetCapacity: number;
  budgetPerMinute: number;
  assumedBanSeconds: number;
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
}

/**
 * Departure boards with the upstream kept at arm's length: fresh cache hits first, one upstream
 * call per route at a time, a call budget under the upstream's limit, bans detected and waited out,
 * and stale boards (up to a max age) when the upstream cannot be asked.
 */
export class DeparturesService {
  readonly #api: RailApi;
  readonly #observer: DeparturesObserver;
  readonly #options: DeparturesOptions;
  readonly #clock: () => number;
  readonly #cache: BoardCache;
  readonly #coalescer = new Coalescer<CachedBoard>();
  readonly #budget: TokenBucket;
  readonly #bans = new BanTracker();
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
    this.#budget = new TokenBucket(
      { capacity: options.budgetCapacity, refillPerSecond: options.budgetPerMinute / 60 },
      clock(),
    );
  }

  /** The active ban, if the upstream has banned this replica. */
  ban(): BanState | undefined {
    return this.#bans.active(this.#clock());
  }

  /**
   * While banned, makes one upstream call once the probe interval has passed; a board ends the
   * ban early. Called on a timer; does nothing when not banned or not yet due.
   */
  async probeBan(): Promise<'not-banned' | 'not-due' | 'still-banned' | 'ban-over'> {
    const now = this.#clock();
    const ban = this.#bans.active(now);
    if (!ban || !this.#probeQuery) return 'not-banned';
    if (this.#options.banProbeIntervalSeconds <= 0 || now < this.#nextProbeAt) return 'not-due';
    this.#nextProbeAt = now + this.#options.banProbeIntervalSeconds * 1000;
    const { key, query } = this.#probeQuery;
    try {
      await this.#refresh(key, query, true);
      return 'ban-over';
    } catch {
      return this.#bans.isBanned(this.#clock()) ? 'still-banned' : 'ban-over';
    }
  }

  budgetTokens(): number {
    return this.#budget.tokens(this.#clock());
  }

  async getBoard(query: BoardQuery): Promise<BoardAnswer> {
    const key = `${query.crs}>${query.to ?? '*'}`;
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
          const entry = await this.#refresh(key, query);
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

  #refresh(key: string, query: BoardQuery, probe = false): Promise<CachedBoard> {
    const { promise, joined } = this.#coalescer.run(key, () => this.#fetch(key, query, probe));
    if (joined) this.#observer.coalesced();
    return promise;
  }

  async #fetch(key: string, query: BoardQuery, probe: boolean): Promise<CachedBoard> {
    const now = this.#clock();
    const ban = this.#bans.active(now);
    if (ban && !probe)
      throw new BoardUnavailableError('banned', (ban.until - now) / 1000, { bannedUntil: ban.until });
    if (!this.#budget.tryTake(now)) {
      this.#observer.budgetExhausted();
      throw new BoardUnavailableError('budget_exhausted', this.#budget.secondsUntilToken(now));
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
          const kind = errorKind(error);
          this.#observer.upstreamCall(kind, (error as Error).message);
          span.setAttribute('upstream.outcome', kind);
          throw new BoardUnavailableError('upstream_error', this.#options.errorRetryAfterSeconds, {
            cause: error,
          });
        }
        const previous = this.#cache.lookup(key, this.#clock());
        const outcome = classifyUpstream(response, this.#clock(), {
          assumedBanSeconds: this.#options.assumedBanSeconds,
          detectSilentBans: this.#options.detectSilentBans,
          previousHadServices: previous.result !== 'miss' && serviceCount(previous.entry.board) > 0,
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
