// PromQL shared by several dashboards. Every expression stays a plain instant-query-able
// expression once Grafana's variables ($__rate_interval, $service, …) are substituted.
import { ERROR_BUDGET } from './common.ts';

/**
 * The platform's scrape jobs as a regex alternation: the job names of observability/prometheus/
 * prometheus.yml (Prometheus' own aside), which the Kubernetes ServiceMonitors give too.
 */
export const PLATFORM_JOBS =
  'gateway|route-config|departures|rail-sim|otel-collector|otel-collector-spanmetrics';

/** The OpenTelemetry Collector's own metrics (its :8888), scraped as job otel-collector in both stacks. */
export const COLLECTOR = 'job="otel-collector"';

/** `rate()` window used everywhere a panel follows the dashboard's time range. */
export const RATE = '$__rate_interval';

const SERVER = 'http_server_request_duration_seconds';
const CLIENT = 'http_client_request_duration_seconds';

function selector(matchers: string): string {
  return matchers ? `{${matchers}}` : '';
}

/** Inbound requests per second, summed by `by` (empty: one series). */
export function serverRate(by: string, matchers = '', window = RATE): string {
  const grouping = by ? ` by (${by})` : '';
  return `sum${grouping} (rate(${SERVER}_count${selector(matchers)}[${window}]))`;
}

function and(matchers: string, extra: string): string {
  return matchers ? `${matchers}, ${extra}` : extra;
}

/**
 * Share of inbound requests answered 5xx. 0 (not absent) while there is traffic without any 5xx,
 * absent without traffic, so a quiet service reads "no data" rather than "healthy".
 */
export function serverErrorRatio(by: string, matchers = '', window = RATE): string {
  const errors = serverRate(by, and(matchers, 'status_code=~"5.."'), window);
  const all = serverRate(by, matchers, window);
  return `(${errors} or 0 * ${all}) / ${all}`;
}

/** Latency quantile of inbound requests from the histogram buckets. */
export function serverQuantile(q: number, by: string, matchers = '', window = RATE): string {
  const grouping = by ? `le, ${by}` : 'le';
  return `histogram_quantile(${q}, sum by (${grouping}) (rate(${SERVER}_bucket${selector(matchers)}[${window}])))`;
}

/** Outbound calls per second. */
export function clientRate(by: string, matchers = '', window = RATE): string {
  return `sum by (${by}) (rate(${CLIENT}_count${selector(matchers)}[${window}]))`;
}

/** Latency quantile of outbound calls. */
export function clientQuantile(q: number, by: string, matchers = '', window = RATE): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${CLIENT}_bucket${selector(matchers)}[${window}])))`;
}

/** The SLO's requests: the gateway's GET /api/departures. */
export const SLO_MATCHERS = 'service="gateway", route="/api/departures"';

/** Windows recorded in observability/prometheus/rules/slo.yml. */
export type SloWindow = '5m' | '30m' | '1h' | '2h' | '6h' | '1d' | '3d';

/** The recorded 5xx ratio of the SLO's requests over `window` (0 with traffic and no 5xx). */
export function sloErrorRatio(window: SloWindow): string {
  return `slo:gateway_departures_errors:ratio_rate${window}`;
}

/** How many times faster than allowed the error budget burns over `window`. */
export function sloBurnRate(window: SloWindow): string {
  return `${sloErrorRatio(window)} / ${ERROR_BUDGET}`;
}

/**
 * The longest window a panel looks back: what both stacks' Prometheus keep (compose
 * `--storage.tsdb.retention.time`, Kubernetes `prometheusSpec.retention`: 3 days). The SLO is
 * defined over 30 days, but a 30-day query there would average over whatever 3 days are left while
 * its title said 30; panels say which window they compute over instead.
 * observability/test/grafana.test.ts compares every range of every query with both retentions.
 */
export const LONGEST_WINDOW = '3d' satisfies SloWindow;

/**
 * Share of the error budget left if the SLO's requests kept the 5xx ratio of `window` for the whole
 * 30-day SLO period: 1 = no 5xx, 0 = exactly at the objective, negative = the pace misses it.
 */
export function sloBudgetRemaining(window: SloWindow): string {
  return `1 - ${sloErrorRatio(window)} / ${ERROR_BUDGET}`;
}
