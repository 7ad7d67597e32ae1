import { createServiceRuntime, loadOrExit, type ReadinessState, serve } from '@failway/telemetry';
import { createObserver } from './adapters/observer.ts';
import { createRailApi } from './adapters/rail-api.ts';
import { createApp } from './app.ts';
import { loadConfig, MAX_ROWS } from './config.ts';
import { DeparturesService, REFRESH_AHEAD_LEAD, REFRESH_AHEAD_TICK_MS } from './domain/departures.ts';

const config = await loadOrExit(loadConfig);

let departures: DeparturesService | undefined;
const readiness = (): ReadinessState => {
  const ban = departures?.ban();
  return ban
    ? { ready: false, status: 'banned', until: new Date(ban.until).toISOString(), style: ban.style }
    : { ready: true };
};
const runtime = createServiceRuntime('departures', process.env, readiness);
const railApi = createRailApi({
  baseUrl: config.UPSTREAM_URL,
  apiKey: config.UPSTREAM_API_KEY,
  localAddress: config.UPSTREAM_LOCAL_ADDRESS,
  timeoutMs: config.UPSTREAM_TIMEOUT_MS,
  metrics: runtime.metrics,
});
const observer = createObserver(
  runtime.metrics,
  runtime.logger,
  () => departures as DeparturesService,
  config.UPSTREAM_BUDGET_PER_MIN,
);
departures = new DeparturesService(railApi, observer, {
  cacheTtlSeconds: config.CACHE_TTL_S,
  staleMaxAgeSeconds: config.STALE_MAX_AGE_S,
  cacheMaxEntries: config.CACHE_MAX_ENTRIES,
  budgetCapacity: config.UPSTREAM_BUDGET_BURST,
  budgetPerMinute: config.UPSTREAM_BUDGET_PER_MIN,
  assumedBanSeconds: config.BAN_ASSUMED_DURATION_S,
  maxBanSeconds: config.BAN_MAX_S,
  detectSilentBans: config.SILENT_BAN_DETECTION,
  upstreamRows: MAX_ROWS,
  errorRetryAfterSeconds: config.UPSTREAM_ERROR_RETRY_AFTER_S,
  banProbeIntervalSeconds: config.BAN_PROBE_INTERVAL_S,
  refreshAhead: config.REFRESH_AHEAD,
  refreshAheadShare: config.REFRESH_AHEAD_SHARE,
  refreshAheadRecentSeconds: config.REFRESH_AHEAD_RECENT_S,
});
// Background work never rejects unhandled: a failure is logged. The observer logs each probe.
const tickFailed = (error: unknown) =>
  runtime.logger.error('background upstream work failed', { error: (error as Error).message });
const probeTimer = setInterval(() => void departures?.probeBan().catch(tickFailed), 1_000);
probeTimer.unref();
// Bounded work per tick (see DeparturesService.refreshAhead).
const refreshTimer = departures.refreshAheadActive
  ? setInterval(() => void departures?.refreshAhead().catch(tickFailed), REFRESH_AHEAD_TICK_MS)
  : undefined;
refreshTimer?.unref();

await serve(createApp({ runtime, departures }), {
  port: config.PORT,
  host: config.HOST,
  logger: runtime.logger,
  health: runtime.health,
  drainDelayMs: runtime.env.SHUTDOWN_DRAIN_DELAY_MS,
  limits: { maxConnections: runtime.env.HTTP_MAX_CONNECTIONS },
  onClose: async () => {
    clearInterval(probeTimer);
    clearInterval(refreshTimer);
    await railApi.close();
  },
});
runtime.logger.info('departures ready', {
  upstream: config.UPSTREAM_URL,
  upstream_local_address: config.UPSTREAM_LOCAL_ADDRESS ?? null,
  budget_per_min: config.UPSTREAM_BUDGET_PER_MIN,
  refresh_ahead: departures.refreshAheadActive
    ? 'on'
    : config.REFRESH_AHEAD
      ? `off: the last ${Math.round(REFRESH_AHEAD_LEAD * 100)} % of CACHE_TTL_S=${config.CACHE_TTL_S} is shorter than a ${REFRESH_AHEAD_TICK_MS / 1000} s tick`
      : 'off',
  budget_reserve_max: config.REFRESH_AHEAD
    ? Math.floor(config.REFRESH_AHEAD_SHARE * config.UPSTREAM_BUDGET_BURST)
    : 0,
});
