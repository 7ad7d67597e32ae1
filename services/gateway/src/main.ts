import { createServiceRuntime, loadOrExit, serve } from '@failway/telemetry';
import { discoverByDns } from './adapters/discovery.ts';
import { createBoardsObserver } from './adapters/observer.ts';
import { DeparturesPool, httpTransport } from './adapters/pool.ts';
import { RouteConfigClient } from './adapters/route-config.ts';
import { createApps } from './app.ts';
import { breakerSettings, loadConfig } from './config.ts';
import { GatewayBoards } from './domain/boards.ts';
import { LastGoodStore } from './domain/stale-store.ts';
import { listenOps } from './http/ops-server.ts';

const config = await loadOrExit(loadConfig);

const runtime = createServiceRuntime('gateway');
const { logger, metrics } = runtime;
const pool = new DeparturesPool({
  members: config.DEPARTURES_DNS ? [] : config.DEPARTURES_URLS,
  metrics,
  logger,
  transport: httpTransport({
    metrics,
    timeoutMs: config.DEPARTURES_TIMEOUT_MS,
    connectTimeoutMs: config.DEPARTURES_CONNECT_TIMEOUT_MS,
    readyzTimeoutMs: config.READYZ_TIMEOUT_MS,
  }),
  breaker: breakerSettings(config),
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
  timeoutMs: config.ROUTE_CONFIG_TIMEOUT_MS,
  retryMaxMs: config.ROUTES_RETRY_MAX_S * 1000,
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

const apps = createApps({
  runtime,
  routes,
  boards,
  pool,
  rateLimitPerMinute: config.RATE_LIMIT_PER_MIN,
  newRoutesPerClientPerMinute: config.NEW_ROUTES_PER_CLIENT_PER_MIN,
  adminToken: config.ADMIN_TOKEN,
  trustProxy: config.TRUST_PROXY,
});
// The ops listener first: its "ops listening" line comes before the public "listening" line.
const ops = await listenOps(apps.ops, { port: config.OPS_PORT, host: config.HOST, logger });
await serve(apps.public, {
  port: config.PORT,
  host: config.HOST,
  logger,
  health: runtime.health,
  drainDelayMs: runtime.env.SHUTDOWN_DRAIN_DELAY_MS,
  limits: { maxConnections: runtime.env.HTTP_MAX_CONNECTIONS },
  onClose: async () => {
    stopDiscovery();
    await pool.stop();
    await routes.close();
    await ops.close();
  },
});
logger.info('gateway ready', {
  departures: config.DEPARTURES_DNS ?? config.DEPARTURES_URLS.map((m) => `${m.name}=${m.url}`),
  ops_port: ops.port,
  trust_proxy: config.TRUST_PROXY.length > 0 ? config.TRUST_PROXY : 'none',
  route_config: config.ROUTE_CONFIG_URL,
  failover: config.FAILOVER,
  new_routes_per_client_per_min: config.NEW_ROUTES_PER_CLIENT_PER_MIN,
  admin_api: config.ADMIN_TOKEN ? 'enabled' : 'disabled',
});
if (!config.FAILOVER)
  logger.warn('FAILOVER=off: plain round robin, no ban-aware routing, no retries, no last good boards');
