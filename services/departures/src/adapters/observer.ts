import type { Logger, ServiceMetrics } from '@failway/telemetry';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { BanState } from '../domain/ban.ts';
import type { DeparturesObserver, DeparturesService } from '../domain/departures.ts';

/**
 * The departures domain metrics (names in docs/telemetry.md) and log lines. Ban state and budget
 * are read at scrape time, so a ban that expires shows as 0 without waiting for the next request.
 */
export function createObserver(
  metrics: ServiceMetrics,
  logger: Logger,
  service: () => DeparturesService,
  budgetPerMinute: number,
): DeparturesObserver {
  const registers = [metrics.registry];
  const upstreamRequests = new Counter({
    name: 'departures_upstream_requests_total',
    help: 'Calls made to the upstream rail API, by outcome (success, banned, error, timeout).',
    labelNames: ['outcome'],
    registers,
  });
  const bans = new Counter({
    name: 'departures_upstream_bans_total',
    help: 'Bans of this replica by the upstream, by how the upstream signalled them.',
    labelNames: ['style'],
    registers,
  });
  new Gauge({
    name: 'departures_upstream_banned',
    help: '1 while the upstream bans this replica, else 0.',
    registers,
    collect() {
      this.set(service().ban() ? 1 : 0);
    },
  });
  new Gauge({
    name: 'departures_upstream_banned_until_seconds',
    help: 'Unix time the current ban ends (0 when not banned).',
    registers,
    collect() {
      this.set((service().ban()?.until ?? 0) / 1000);
    },
  });
  const cacheLookups = new Counter({
    name: 'departures_cache_lookups_total',
    help: 'Board cache lookups: hit (fresh), stale (expired but kept), miss.',
    labelNames: ['result'],
    registers,
  });
  const served = new Counter({
    name: 'departures_responses_total',
    help: 'Boards served, by where they came from (upstream, cache, stale).',
    labelNames: ['source'],
    registers,
  });
  const boardAge = new Histogram({
    name: 'departures_board_age_seconds',
    help: 'Age of the boards served.',
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
    registers,
  });
  const budgetRejections = new Counter({
    name: 'departures_upstream_budget_exhausted_total',
    help: 'Upstream calls not made because the call budget was spent.',
    registers,
  });
  new Gauge({
    name: 'departures_upstream_budget_tokens',
    help: 'Upstream calls that can be made right now under the budget.',
    registers,
    collect() {
      this.set(service().budgetTokens());
    },
  });
  new Gauge({
    name: 'departures_upstream_budget_per_minute',
    help: 'Sustained upstream calls per minute the budget allows.',
    registers,
  }).set(budgetPerMinute);
  const coalesced = new Counter({
    name: 'departures_coalesced_requests_total',
    help: 'Requests that waited for an upstream call already in flight instead of making their own.',
    registers,
  });
  for (const outcome of ['success', 'banned', 'error', 'timeout']) upstreamRequests.inc({ outcome }, 0);
  for (const result of ['hit', 'miss', 'stale']) cacheLookups.inc({ result }, 0);
  for (const source of ['upstream', 'cache', 'stale']) served.inc({ source }, 0);

  const describe = (ban: BanState) => ({
    ban_style: ban.style,
    banned_since: new Date(ban.since).toISOString(),
    banned_until: new Date(ban.until).toISOString(),
  });
  return {
    cacheLookup: (result) => cacheLookups.inc({ result }),
    upstreamCall: (outcome, detail) => {
      upstreamRequests.inc({ outcome });
      if (outcome === 'error' || outcome === 'timeout')
        logger.warn('upstream call failed', { outcome, detail });
    },
    banStarted: (ban, announced) => {
      bans.inc({ style: ban.style });
      logger.warn('upstream banned this replica; readiness is off until the ban ends', {
        ...describe(ban),
        ban_announced: announced,
      });
    },
    banEnded: (ban) => logger.info('upstream ban is over; serving fresh boards again', describe(ban)),
    budgetExhausted: () => {
      budgetRejections.inc();
      logger.warn('upstream call budget exhausted; not calling the upstream');
    },
    coalesced: () => coalesced.inc(),
    served: (source, ageSeconds) => {
      served.inc({ source });
      boardAge.observe(ageSeconds);
    },
  };
}
