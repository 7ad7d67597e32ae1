import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import {
  assemble,
  COLORS,
  failwayDashboard,
  prom,
  referenceLines,
  seriesColors,
  stat,
  stateTimeline,
  thresholds,
  timeseries,
  valueText,
} from './common.ts';
import { RATE } from './promql.ts';

export const BANS_UID = 'failway-bans';

export function bansDashboard(): Dashboard {
  const builder = failwayDashboard({
    title: 'Failway · Ban handling',
    uid: BANS_UID,
    description:
      'How the upstream rail API bans departures replicas, how they detect it and keep serving from ' +
      'cache, and how the gateway routes around banned replicas.',
    from: 'now-3h',
    refresh: '30s',
    banAnnotation: true,
  });

  return assemble(builder, [
    {
      title: 'Who is banned',
      panels: [
        stateTimeline(
          {
            title: 'Upstream ban state per replica',
            description:
              'One lane per departures replica: red while the upstream bans it (departures_upstream_banned). ' +
              'A ban lasts until its announced expiry (60 min by default). Two red lanes at once means ' +
              'the gateway has no ready replica and serves its last good boards.',
          },
          [prom('max by (instance) (departures_upstream_banned)', '{{instance}}')],
          valueText({
            '0': { text: 'serving', color: COLORS.ok },
            '1': { text: 'banned', color: COLORS.bad },
          }),
        ).span(16),
        stat(
          {
            title: 'Ban ends in',
            description:
              "Time left until each banned replica's ban ends (departures_upstream_banned_until_seconds). " +
              'Empty when no replica is banned. A ban lifted early is noticed by the 5-minute probe.',
          },
          prom(
            '(max by (instance) (departures_upstream_banned_until_seconds) - time()) > 0',
            '{{instance}}',
            { instant: true },
          ),
          { unit: 'dtdurations', graph: false, thresholds: thresholds(COLORS.bad) },
        )
          .noValue('no active ban')
          .span(8)
          .height(8),
        timeseries(
          {
            title: 'Bans started by style',
            description:
              'Bans detected per replica, by how the upstream signalled them: http-429 (Retry-After), ' +
              'http-403 (HTML page), http-503, or silent-empty (an empty board for a route that had ' +
              'trains). Any bar here means a replica called too often — with the call budget on, that ' +
              'should only happen when bans are injected.',
          },
          [
            prom(
              `sum by (instance, style) (increase(departures_upstream_bans_total[${RATE}]))`,
              '{{instance}} {{style}}',
            ),
          ],
          { bars: true, min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'rail-sim active bans',
            description:
              'Client IPs the simulated upstream bans right now (railsim_bans_active). Should match the ' +
              'number of red lanes above; more means a ban the replicas have not noticed (silent bans ' +
              'without SILENT_BAN_DETECTION).',
          },
          [prom('sum(railsim_bans_active)', 'active bans')],
          { min: 0 },
        ).span(8),
        seriesColors(
          timeseries(
            {
              title: 'rail-sim bans started by reason',
              description:
                'Bans rail-sim started: limit = a client IP went over BAN_THRESHOLD calls in BAN_WINDOW_S, ' +
                'admin = injected through the admin API (drills). Limit bans point at a broken call budget.',
            },
            [prom(`sum by (reason) (increase(railsim_bans_total[${RATE}]))`, '{{reason}}')],
            { bars: true, min: 0 },
          ),
          { limit: COLORS.bad, admin: COLORS.info },
        ).span(8),
      ],
    },
    {
      title: 'Upstream calls vs budget',
      panels: [
        referenceLines(
          timeseries(
            {
              title: 'Upstream calls per minute vs budget',
              description:
                'Calls each replica made to the upstream per minute, by outcome, against its sustained ' +
                'budget (dashed, UPSTREAM_BUDGET_PER_MIN). rail-sim bans above 60 calls a minute; the ' +
                'budget (40) keeps each replica under it. banned/error/timeout outcomes are calls that ' +
                'did not bring a board.',
            },
            [
              prom(
                `sum by (instance, outcome) (rate(departures_upstream_requests_total[${RATE}])) * 60`,
                '{{instance}} {{outcome}}',
              ),
              prom('max by (instance) (departures_upstream_budget_per_minute)', '{{instance}} budget'),
            ],
            { unit: 'cpm', min: 0 },
          ),
          '.* budget$',
          COLORS.bad,
        ),
        timeseries(
          {
            title: 'Budget tokens left',
            description:
              'Upstream calls each replica may make right now (token bucket, burst 10). Near 0 means ' +
              'the replica is at its budget and further cache misses are served stale or refused.',
          },
          [prom('max by (instance) (departures_upstream_budget_tokens)', '{{instance}}')],
          { min: 0 },
        ).span(6),
        timeseries(
          {
            title: 'Calls skipped: budget exhausted',
            description:
              'Upstream calls not made per minute because the budget was spent ' +
              '(departures_upstream_budget_exhausted_total). Non-zero means demand for fresh boards ' +
              'exceeds the budget; the replica answers stale boards instead of risking a ban.',
          },
          [
            prom(
              `sum by (instance) (rate(departures_upstream_budget_exhausted_total[${RATE}])) * 60`,
              '{{instance}}',
            ),
          ],
          { unit: 'cpm', min: 0 },
        ).span(6),
        seriesColors(
          timeseries(
            {
              title: 'Budget refusals: demand vs cold',
              description:
                'Requests per minute refused for want of budget, by kind ' +
                '(departures_upstream_budget_exhausted_by_kind_total): demand = a route asked for twice ' +
                'within REFRESH_AHEAD_RECENT_S found the bucket empty; cold = any other route, which may ' +
                'not take the reserve. Cold refusals under a scan are the design working; demand ' +
                'refusals mean the budget is too small for the routes people watch.',
            },
            [
              prom(
                `sum by (kind) (rate(departures_upstream_budget_exhausted_by_kind_total[${RATE}])) * 60`,
                '{{kind}}',
              ),
            ],
            { unit: 'cpm', stack: true, min: 0 },
          ),
          { demand: COLORS.bad, cold: COLORS.warn },
        ).span(6),
        timeseries(
          {
            title: 'Budget reserve for routes in demand',
            description:
              'Tokens each replica holds back from cold routes (departures_upstream_budget_reserve_tokens): ' +
              'one per route in demand whose renewal is due within the time the bucket needs to refill ' +
              'the reserve (4.5 s at 40/min), at most REFRESH_AHEAD_SHARE of the burst (3 of 10). 0 ' +
              'while the watched boards are fresh, nothing is in demand, or REFRESH_AHEAD=off.',
          },
          [prom('max by (instance) (departures_upstream_budget_reserve_tokens)', '{{instance}}')],
          { min: 0 },
        ).span(6),
        seriesColors(
          timeseries(
            {
              title: 'Refresh-ahead by outcome',
              description:
                'Background renewals per minute of boards of routes in demand, in the last 20 % of ' +
                'CACHE_TTL_S (departures_refresh_ahead_total): refreshed (the next asker gets a fresh ' +
                'board without waiting), skipped_budget (no token; retried next second), failed (error ' +
                'or ban). Off, or CACHE_TTL_S under 5 s: nothing here.',
            },
            [prom(`sum by (outcome) (rate(departures_refresh_ahead_total[${RATE}])) * 60`, '{{outcome}}')],
            { unit: 'cpm', stack: true, min: 0 },
          ),
          { refreshed: COLORS.ok, skipped_budget: COLORS.warn, failed: COLORS.bad },
        ).span(6),
        seriesColors(
          timeseries(
            {
              title: 'Ban probes by outcome',
              description:
                'Probes a banned replica made every BAN_PROBE_INTERVAL_S (departures_ban_probes_total): ' +
                'still_banned, ban_over (the ban was lifted early), error (no verdict), no_budget (no ' +
                'call made: the budget had no token; retried once one is back).',
            },
            [prom(`sum by (outcome) (increase(departures_ban_probes_total[${RATE}]))`, '{{outcome}}')],
            { bars: true, min: 0 },
          ),
          { still_banned: COLORS.bad, ban_over: COLORS.ok, error: 'purple', no_budget: COLORS.warn },
        ).span(6),
      ],
    },
    {
      title: 'Cache and staleness',
      panels: [
        seriesColors(
          timeseries(
            {
              title: 'Cache lookups by result',
              description:
                'Departures cache lookups per second: hit (fresh, under CACHE_TTL_S), miss (nothing ' +
                'cached) and stale (cached but older). During a ban, stale replaces hit+miss; lots of ' +
                'misses in steady state mean routes nobody asked for recently.',
            },
            [prom(`sum by (result) (rate(departures_cache_lookups_total[${RATE}]))`, '{{result}}')],
            { unit: 'ops', stack: true, min: 0 },
          ),
          { hit: COLORS.ok, miss: COLORS.info, stale: COLORS.warn },
        ).span(8),
        seriesColors(
          timeseries(
            {
              title: 'Boards served by source',
              description:
                'Boards the departures replicas served per second: upstream (fresh call), cache (fresh ' +
                'cached board) or stale (older than the TTL, served because the upstream cannot be called).',
            },
            [prom(`sum by (source) (rate(departures_responses_total[${RATE}]))`, '{{source}}')],
            { unit: 'reqps', stack: true, min: 0 },
          ),
          { upstream: COLORS.info, cache: COLORS.ok, stale: COLORS.warn },
        ).span(8),
        timeseries(
          {
            title: 'Age of boards served',
            description:
              'Quantiles of the age of boards served (departures_board_age_seconds). Normally under ' +
              'CACHE_TTL_S (30 s); during a ban it grows with the ban, up to STALE_MAX_AGE_S (1 h), ' +
              'after which there is nothing left to serve.',
          },
          [
            prom(
              `histogram_quantile(0.5, sum by (le) (rate(departures_board_age_seconds_bucket[${RATE}])))`,
              'p50',
            ),
            prom(
              `histogram_quantile(0.95, sum by (le) (rate(departures_board_age_seconds_bucket[${RATE}])))`,
              'p95',
            ),
            prom(
              `histogram_quantile(0.99, sum by (le) (rate(departures_board_age_seconds_bucket[${RATE}])))`,
              'p99',
            ),
          ],
          { unit: 's', min: 0 },
        ).span(8),
        seriesColors(
          timeseries(
            {
              title: 'Stale answers at the gateway by origin',
              description:
                'Stale boards the gateway passed on per second: replica = a replica that could not ' +
                'refresh answered stale (the gateway then retries elsewhere), gateway = every replica ' +
                'was out and the gateway served its own last good board.',
            },
            [prom(`sum by (origin) (rate(gateway_stale_responses_total[${RATE}]))`, '{{origin}}')],
            { unit: 'reqps', stack: true, min: 0 },
          ),
          { replica: COLORS.warn, gateway: COLORS.bad },
        ).span(8),
        timeseries(
          {
            title: 'Coalesced requests',
            description:
              'Requests per second that waited for an upstream call already in flight for the same ' +
              'route instead of making their own. High under bursts is good: it is calls saved.',
          },
          [prom(`sum by (instance) (rate(departures_coalesced_requests_total[${RATE}]))`, '{{instance}}')],
          { unit: 'reqps', min: 0 },
        ).span(8),
        timeseries(
          {
            title: 'Departures 503: no board to give',
            description:
              '503 answers of each departures replica: no board cached and no way to get one (banned, ' +
              'budget exhausted or upstream error). The gateway retries these on another replica.',
          },
          [
            prom(
              `sum by (instance) (rate(http_server_request_duration_seconds_count{service="departures", status_code="503"}[${RATE}]))`,
              '{{instance}}',
            ),
          ],
          { unit: 'reqps', min: 0 },
        ).span(8),
      ],
    },
    {
      title: 'Gateway routing around bans',
      panels: [
        seriesColors(
          timeseries(
            {
              title: 'Pool members by state',
              description:
                "Departures replicas in the gateway's pool by state: ready (gets traffic), banned (its " +
                '/readyz says so), ejected (left out for EJECT_S after a failed request) or down. ' +
                'Only ready members get traffic.',
            },
            [prom('max by (state) (gateway_pool_members)', '{{state}}')],
            { stack: true, min: 0 },
          ),
          { ready: COLORS.ok, banned: COLORS.bad, ejected: COLORS.warn, down: 'purple' },
        ).span(8),
        stateTimeline(
          {
            title: 'Circuit state per replica',
            description:
              "The gateway's circuit breaker per replica: closed (normal), open (50 % failures over at " +
              'least 4 calls; no traffic) and half-open (one trial call after 5 s). Flapping between ' +
              'open and half-open means the replica keeps failing.',
          },
          [prom('max by (member) (gateway_circuit_state)', '{{member}}')],
          valueText({
            '0': { text: 'closed', color: COLORS.ok },
            '1': { text: 'half-open', color: COLORS.warn },
            '2': { text: 'open', color: COLORS.bad },
          }),
        ).span(16),
        timeseries(
          {
            title: 'Retries on another replica',
            description:
              'Board requests the gateway retried on another replica per second (gateway_retries_total): ' +
              'after a failure, a timeout, or a stale board from a replica that was just banned.',
          },
          [prom(`sum(rate(gateway_retries_total[${RATE}]))`, 'retries')],
          { unit: 'reqps', min: 0 },
        ),
        timeseries(
          {
            title: 'Ejections by replica and reason',
            description:
              'Replicas the gateway left out after a failed request, by reason (timeout, ECONNREFUSED, ' +
              'upstream_error, status_500, …). Ejections of a banned replica are expected; ejections ' +
              'of a healthy one point at timeouts or crashes.',
          },
          [
            prom(
              `sum by (member, reason) (increase(gateway_member_ejections_total[${RATE}]))`,
              '{{member}} {{reason}}',
            ),
          ],
          { bars: true, min: 0 },
        ),
        seriesColors(
          timeseries(
            {
              title: 'Affinity misses by reason',
              description:
                "Boards served per second by a replica other than the route's owner " +
                '(gateway_affinity_misses_total), by why the owner did not serve: banned, ejected, down, ' +
                'budget_exhausted (its upstream budget was spent), failed (timeout, error, invalid answer) or ' +
                'stale. Each route has one owner (rendezvous hashing), so one replica caches it and spends ' +
                'budget on it; misses mean routes reach replicas that have not cached them.',
            },
            [prom(`sum by (reason) (rate(gateway_affinity_misses_total[${RATE}]))`, '{{reason}}')],
            { unit: 'reqps', stack: true, min: 0 },
          ),
          {
            banned: COLORS.bad,
            budget_exhausted: 'yellow',
            ejected: COLORS.warn,
            failed: 'purple',
            down: 'dark-red',
            stale: COLORS.info,
          },
        ),
        timeseries(
          {
            title: 'New-route requests refused (429)',
            description:
              'Board requests refused per minute because one client asked for more routes the gateway ' +
              'holds no board for than NEW_ROUTES_PER_CLIENT_PER_MIN (gateway_new_route_limited_total). ' +
              'Each new route costs the replicas upstream calls; this keeps one client scanning station ' +
              "pairs from spending the fleet's budget. Routes served before are never refused.",
          },
          [prom(`sum(rate(gateway_new_route_limited_total[${RATE}])) * 60`, 'refused')],
          { unit: 'cpm', min: 0 },
        ),
      ],
    },
  ]);
}
