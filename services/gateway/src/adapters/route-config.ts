import {
  type Catalog,
  type Route,
  routesAnswerSchema,
  type Station,
  stationsAnswerSchema,
} from '@failway/contract';
import { AppError, createHttpClient, type Logger, type ServiceMetrics } from '@failway/telemetry';

// The contract's schemas are loose: members route-config adds later pass through to /api/stations
// and /api/routes.
export type { Catalog, Route, Station };

/** Where the gateway gets stations and routes from. */
export interface CatalogSource {
  catalog(): Promise<Catalog>;
}

export interface RouteConfigOptions {
  baseUrl: string;
  /** How long a catalog is used before a refresh is started. */
  ttlSeconds: number;
  metrics: ServiceMetrics;
  logger: Logger;
  /** Deadline of one request to route-config. */
  timeoutMs?: number;
  /** Wait after the first failed refresh; it doubles with each failure in a row. */
  retryMinMs?: number;
  /** The longest wait between failed refreshes. */
  retryMaxMs?: number;
  clock?: () => number;
}

/**
 * Stations and routes from route-config, served from memory. Only the very first request (no
 * catalog yet) waits for route-config; after that, a catalog older than the TTL is still answered
 * at once while one refresh (single-flight) runs in the background, so a slow or hung route-config
 * adds no latency to requests. Failed refreshes are retried with exponential backoff, and the last
 * catalog stays in use meanwhile.
 */
export class RouteConfigClient implements CatalogSource {
  readonly #client;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #retryMinMs: number;
  readonly #retryMaxMs: number;
  #catalog: Catalog | undefined;
  #fetchedAt = 0;
  #refreshing: Promise<Catalog> | undefined;
  #failures = 0;
  #nextAttemptAt = 0;

  constructor(options: RouteConfigOptions) {
    this.#client = createHttpClient({
      peerService: 'route-config',
      baseUrl: options.baseUrl,
      metrics: options.metrics,
      timeoutMs: options.timeoutMs ?? 1_500,
    });
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#retryMinMs = options.retryMinMs ?? 1_000;
    this.#retryMaxMs = Math.max(this.#retryMinMs, options.retryMaxMs ?? 60_000);
  }

  async catalog(): Promise<Catalog> {
    if (!this.#catalog) return this.#refreshOnce();
    const now = this.#clock();
    if (now - this.#fetchedAt >= this.#ttlMs && now >= this.#nextAttemptAt) {
      // #refresh never rejects while a catalog exists; the catch only keeps that a promise.
      this.#refreshOnce().catch(() => undefined);
    }
    return this.#catalog;
  }

  /** Whether a refresh is in flight (tests, diagnostics). */
  get refreshing(): boolean {
    return this.#refreshing !== undefined;
  }

  #refreshOnce(): Promise<Catalog> {
    this.#refreshing ??= this.#refresh().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #refresh(): Promise<Catalog> {
    try {
      const [stations, routes] = await Promise.all([this.#get('/stations'), this.#get('/routes')]);
      const s = stationsAnswerSchema.parse(stations);
      const r = routesAnswerSchema.parse(routes);
      this.#catalog = { stations: s.stations, routes: r.routes, defaultRoute: r.defaultRoute };
      this.#fetchedAt = this.#clock();
      this.#failures = 0;
      this.#nextAttemptAt = 0;
      return this.#catalog;
    } catch (error) {
      this.#failures += 1;
      const waitMs = Math.min(this.#retryMaxMs, this.#retryMinMs * 2 ** Math.min(this.#failures - 1, 30));
      this.#nextAttemptAt = this.#clock() + waitMs;
      if (this.#catalog) {
        this.#logger.warn('route-config unreachable; using the stations and routes fetched before', {
          error: (error as Error).message,
          age_s: Math.round((this.#clock() - this.#fetchedAt) / 1000),
          failures: this.#failures,
          retry_in_ms: waitMs,
        });
        return this.#catalog;
      }
      throw new AppError({
        status: 503,
        code: 'route-config-unavailable',
        title: 'Stations unavailable',
        detail: 'The station list could not be loaded; try again in a few seconds.',
        headers: { 'Retry-After': '5' },
        cause: error,
      });
    }
  }

  async #get(path: string): Promise<unknown> {
    const res = await this.#client.request(path, { headers: { accept: 'application/json' } });
    if (res.status !== 200) throw new Error(`route-config answered ${res.status} for ${path}`);
    return JSON.parse(res.body);
  }

  close(): Promise<void> {
    return this.#client.close();
  }
}
