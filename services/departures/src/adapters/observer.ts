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
  const budgetRejectionsByKind = new Counter({
    name: 'departures_upstream_budget_exhausted_by_kind_total',
    help: 'Requests whose upstream call was not made for want of budget, by kind: demand (a route asked for recently) or cold (held back by the reserve, or the bucket was empty).',
    labelNames: ['kind'],
    registers,
  });
  new Gauge({
    name: 'departures_upstream_budget_reserve_tokens',
    help: 'Upstream budget tokens held back from cold routes for routes in demand right now.',
    registers,
    collect() {
      this.set(service().budgetReserve());
    },
  });
  const refreshAhead = new Counter({
    name: 'departures_refresh_ahead_total',
    help: 'Background renewals of boards of routes in demand before they expire, by outcome (refreshed, skipped_budget, failed).',
    labelNames: ['outcome'],
    registers,
  });
  const banProbes = new Counter({
    name: 'departures_ban_probes_total',
    help: 'Ban probes that were due, by outcome: still_banned, ban_over, error (asked, no verdict), no_budget (not asked: no budget token).',
    labelNames: ['outcome'],
    registers,
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
  for (const kind of ['demand', 'cold']) budgetRejectionsByKind.inc({ kind }, 0);
  for (const outcome of ['refreshed', 'skipped_budget', 'failed']) refreshAhead.inc({ outcome }, 0);
  for (const outcome of ['still_banned', 'ban_over', 'error', 'no_budget']) banProbes.inc({ outcome }, 0);

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
    budgetExhausted: (kind) => {
      budgetRejections.inc();
      budgetRejectionsByKind.inc({ kind });
      logger.warn('upstream call budget exhausted; not calling the upstream', { budget_kind: kind });
    },
    refreshAhead: (outcome) => {
      refreshAhead.inc({ outcome });
      if (outcome === 'failed') logger.info('refresh-ahead of a board failed; it is served until it expires');
    },
    banProbe: (outcome, ban) => {
      banProbes.inc({ outcome: outcome.replace('-', '_') });
      const fields = { ...describe(ban), probe_outcome: outcome };
      if (outcome === 'no-budget')
        logger.info('ban probe skipped: no upstream budget token; not calling the upstream', fields);
      else if (outcome === 'still-banned')
        logger.info('probed the upstream during a ban: still banned', fields);
      else if (outcome === 'error')
        logger.info('probed the upstream during a ban: no verdict (the call failed)', fields);
    },
    coalesced: () => coalesced.inc(),
    served: (source, ageSeconds) => {
      served.inc({ source });
      boardAge.observe(ageSeconds);
    },
  };
}
