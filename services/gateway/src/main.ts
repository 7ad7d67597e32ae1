import { createServiceRuntime, loadOrExit, serve } from '@failway/telemetry';
import { discoverByDns } from './adapters/discovery.ts';
import { createBoardsObserver } from './adapters/observer.ts';
import { DeparturesPool } from './adapters/pool.ts';
import { RouteConfigClient } from './adapters/route-config.ts';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';
import { GatewayBoards } from './domain/boards.ts';
import { LastGoodStore } from './domain/stale-store.ts';

const config = await loadOrExit(loadConfig);

const runtime = createServiceRuntime('gateway');
const { logger, metrics } = runtime;
const pool = new DeparturesPool({
  urls: config.DEPARTURES_DNS ? [] : config.DEPARTURES_URLS,
  metrics,
  logger,
  timeoutMs: config.DEPARTURES_TIMEOUT_MS,
  checkIntervalMs: config.HEALTH_CHECK_INTERVAL_MS,
  ejectSeconds: config.EJECT_S,
  failover: config.FAILOVER,
});
const stopDiscovery = config.DEPARTURES_DNS
  ? discoverByDns(config.DEPARTURES_DNS, pool, logger, config.DEPARTURES_DNS_REFRESH_MS)
  : () => undefined;
pool.start();
const routes = new RouteConfigClient({
  baseUrl: config.ROUTE_CONFIG_URL,
  ttlSeconds: config.ROUTES_CACHE_S,
  metrics,
  logger,
});
const boards = new GatewayBoards(
  pool,
  new LastGoodStore({ maxEntries: 1_000, maxAgeSeconds: config.LAST_GOOD_MAX_AGE_S }),
  createBoardsObserver(metrics),
  {
    failover: config.FAILOVER,
    fallbackRetryAfterSeconds: 5,
    staleRetryWithinMs: config.STALE_RETRY_WITHIN_MS,
  },
);

await serve(
  createApp({
    runtime,
    routes,
    boards,
    pool,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MIN,
    adminToken: config.ADMIN_TOKEN,
    trustProxy: config.TRUST_PROXY,
  }),
  {
    port: config.PORT,
    host: config.HOST,
    logger,
    health: runtime.health,
    drainDelayMs: runtime.env.SHUTDOWN_DRAIN_DELAY_MS,
    onClose: async () => {
      stopDiscovery();
      await pool.stop();
      await routes.close();
    },
  },
);
logger.info('gateway ready', {
  departures: config.DEPARTURES_DNS ?? config.DEPARTURES_URLS,
  route_config: config.ROUTE_CONFIG_URL,
  failover: config.FAILOVER,
  admin_api: config.ADMIN_TOKEN ? 'enabled' : 'disabled',
});
if (!config.FAILOVER) logger.warn('FAILOVER=off: no ban-aware routing, no retries, no last good boards');
