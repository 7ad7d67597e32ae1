// PromQL shared by several dashboards. Every expression stays a plain instant-query-able
// expression once Grafana's variables ($__rate_interval, $service, …) are substituted.
import { ERROR_BUDGET } from './common.ts';

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
 * 5xx ratio of the SLO's requests over the 30-day SLO window. No rule records 30 days (it would
 * be re-evaluated every 15 s for one stat panel), so this one reads the counters directly.
 */
export function sloErrorRatio30d(): string {
  return `(${serverRate('', and(SLO_MATCHERS, 'status_code=~"5.."'), '30d')} or vector(0)) / ${serverRate('', SLO_MATCHERS, '30d')}`;
}

/** Share of the 30-day error budget still unspent (negative once overspent). */
export function sloBudgetRemaining(): string {
  return `1 - (${sloErrorRatio30d()}) / ${ERROR_BUDGET}`;
}
