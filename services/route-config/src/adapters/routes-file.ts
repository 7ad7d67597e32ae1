import { createHash } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger, ServiceMetrics } from '@failway/telemetry';
import { Counter, Gauge } from 'prom-client';
import { type Catalog, checkDefaultRoute, parseCatalog } from '../domain/catalog.ts';

export type ReloadResult = 'unchanged' | 'reloaded' | 'rejected';

/**
 * The routes file and the catalog in use. A change is picked up the way a Kubernetes ConfigMap
 * mount changes (the kubelet swaps a `..data` symlink in the file's directory atomically): the
 * directory is watched, and polled as a safety net because watch events are not guaranteed on
 * every filesystem. An invalid new file is refused and the last good catalog stays in use.
 */
export class RoutesFile {
  readonly #path: string;
  readonly #defaultRoute: { from: string; to: string };
  readonly #logger: Logger;
  readonly #reloads: Counter<'result'>;
  readonly #valid: Gauge;
  readonly #routes: Gauge;
  readonly #stations: Gauge;
  #catalog: Catalog;
  #hash: string;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pending: Promise<ReloadResult> | undefined;

  private constructor(
    path: string,
    defaultRoute: { from: string; to: string },
    catalog: Catalog,
    digest: string,
    logger: Logger,
    metrics: ServiceMetrics,
  ) {
    this.#path = path;
    this.#defaultRoute = defaultRoute;
    this.#catalog = catalog;
    this.#hash = digest;
    this.#logger = logger;
    const registers = [metrics.registry];
    this.#reloads = new Counter({
      name: 'routeconfig_reloads_total',
      help: 'Reloads of the routes file after it changed, by result (failure: invalid, the last good config kept).',
      labelNames: ['result'],
      registers,
    });
    for (const result of ['success', 'failure']) this.#reloads.inc({ result }, 0);
    this.#valid = new Gauge({
      name: 'routeconfig_config_valid',
      help: '1 when the routes file on disk is valid and in use; 0 while an invalid file is refused.',
      registers,
    });
    this.#routes = new Gauge({
      name: 'routeconfig_routes',
      help: 'Preset routes in the catalog in use.',
      registers,
    });
    this.#stations = new Gauge({
      name: 'routeconfig_stations',
      help: 'Stations in the catalog in use.',
      registers,
    });
    this.#valid.set(1);
    this.#publishSizes();
  }

  #publishSizes(): void {
    this.#routes.set(this.#catalog.routes.length);
    this.#stations.set(this.#catalog.stations.length);
  }

  /** Reads the file once at start-up; throws naming every bad entry (the service must not start). */
  static async open(
    path: string,
    defaultRoute: { from: string; to: string },
    logger: Logger,
    metrics: ServiceMetrics,
  ): Promise<RoutesFile> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      throw new Error(`ROUTES_FILE: cannot read ${path}: ${(error as Error).message}`);
    }
    const parsed = parseCatalog(text);
    const errors = parsed.ok
      ? checkDefaultRoute(parsed.catalog, defaultRoute.from, defaultRoute.to)
      : parsed.errors;
    if (!parsed.ok || errors.length > 0)
      throw new Error(`ROUTES_FILE ${path} is invalid:\n  ${errors.join('\n  ')}`);
    return new RoutesFile(path, defaultRoute, parsed.catalog, hash(text), logger, metrics);
  }

  get catalog(): Catalog {
    return this.#catalog;
  }

  get defaultRoute(): { from: string; to: string } {
    return this.#defaultRoute;
  }

  /** Reads the file again; one reload at a time (events often come in bursts). */
  reload(): Promise<ReloadResult> {
    this.#pending ??= this.#reload().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #reload(): Promise<ReloadResult> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (error) {
      // Mid-swap the path can briefly point nowhere; the next event or poll reads it again.
      this.#logger.warn('routes file not readable; keeping the config in use', {
        path: this.#path,
        error: (error as Error).message,
      });
      return 'unchanged';
    }
    const digest = hash(text);
    if (digest === this.#hash) return 'unchanged';
    this.#hash = digest;
    const parsed = parseCatalog(text);
    const errors = parsed.ok
      ? checkDefaultRoute(parsed.catalog, this.#defaultRoute.from, this.#defaultRoute.to)
      : parsed.errors;
    if (!parsed.ok || errors.length > 0) {
      this.#reloads.inc({ result: 'failure' });
      this.#valid.set(0);
      this.#logger.error('routes file invalid; keeping the last good config', { path: this.#path, errors });
      return 'rejected';
    }
    this.#catalog = parsed.catalog;
    this.#reloads.inc({ result: 'success' });
    this.#valid.set(1);
    this.#publishSizes();
    this.#logger.info('routes file reloaded', {
      path: this.#path,
      stations: parsed.catalog.stations.length,
      routes: parsed.catalog.routes.length,
    });
    return 'reloaded';
  }

  /** Starts watching; `stop()` ends it. */
  watch(pollMs: number): void {
    const trigger = () => void this.reload();
    try {
      this.#watcher = watch(dirname(this.#path), { persistent: false }, trigger);
      this.#watcher.on('error', () => undefined);
    } catch {
      // Watching is a shortcut; polling alone still picks changes up.
    }
    this.#timer = setInterval(trigger, pollMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#watcher?.close();
    clearInterval(this.#timer);
  }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
