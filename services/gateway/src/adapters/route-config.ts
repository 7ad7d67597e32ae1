import { AppError, createHttpClient, type Logger, type ServiceMetrics } from '@failway/telemetry';

export interface Station {
  crs: string;
  name: string;
}
export interface Route {
  id: string;
  name: string;
  from: string;
  to: string;
}
export interface Catalog {
  stations: Station[];
  routes: Route[];
  defaultRoute: { from: string; to: string };
}

/**
 * Stations and routes from route-config, kept for a short while and served from memory; when
 * route-config cannot be reached the last catalog is used, so a blip there does not take the
 * gateway down.
 */
export class RouteConfigClient {
  readonly #client;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  #catalog: Catalog | undefined;
  #fetchedAt = 0;
  #pending: Promise<Catalog> | undefined;

  constructor(options: { baseUrl: string; ttlSeconds: number; metrics: ServiceMetrics; logger: Logger }) {
    this.#client = createHttpClient({
      peerService: 'route-config',
      baseUrl: options.baseUrl,
      metrics: options.metrics,
      timeoutMs: 1_500,
    });
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#logger = options.logger;
  }

  async catalog(): Promise<Catalog> {
    if (this.#catalog && Date.now() - this.#fetchedAt < this.#ttlMs) return this.#catalog;
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #refresh(): Promise<Catalog> {
    try {
      const [stations, routes] = await Promise.all([this.#get('/stations'), this.#get('/routes')]);
      this.#catalog = {
        stations: (stations as { stations: Station[] }).stations,
        routes: (routes as { routes: Route[] }).routes,
        defaultRoute: (routes as { defaultRoute: Catalog['defaultRoute'] }).defaultRoute,
      };
      this.#fetchedAt = Date.now();
      return this.#catalog;
    } catch (error) {
      if (this.#catalog) {
        this.#logger.warn('route-config unreachable; using the stations and routes fetched before', {
          error: (error as Error).message,
          age_s: Math.round((Date.now() - this.#fetchedAt) / 1000),
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
