// Requests as load traffic: every one carries a unique X-Request-ID (the services echo it and put
// it on their spans and log lines) and `baggage: synthetic_request=true`, so load can be told
// apart from people in traces and logs. Board answers feed the metrics the k6 dashboard shows.
import { check } from 'k6';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { config } from './config.js';

/** Share of board answers that were stale (k6_stale_answers_rate in Prometheus). */
export const staleAnswers = new Rate('stale_answers');
/** Board answers by `source`: fresh, stale, unavailable (503), rejected (4xx), error (k6_answers_total). */
export const answers = new Counter('answers');

/** Tag `name` of every board request: one series for all routes, not one per URL. */
export const BOARD = 'GET /api/departures';

let sequence = 0;

/** A request ID unique across VUs and runs, within the services' `^[A-Za-z0-9._-]{1,128}$`. */
export function requestId() {
  sequence += 1;
  return `k6-${crypto.randomUUID()}-${__VU}-${sequence}`;
}

/** Request params with the load-traffic headers; `extra` may add headers, tags, callbacks. */
export function params(extra = {}) {
  return {
    ...extra,
    headers: { 'X-Request-ID': requestId(), baggage: 'synthetic_request=true', ...extra.headers },
  };
}

export function get(url, extra = {}) {
  return http.get(url, params(extra));
}

/** A JSON call to an admin API (rail-sim's or the gateway's) with the admin token. */
export function admin(method, url, body, extra = {}) {
  return http.request(
    method,
    url,
    body === undefined ? null : JSON.stringify(body),
    params({
      ...extra,
      headers: {
        Authorization: `Bearer ${config.adminToken}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      // One series per endpoint, whichever IP is banned or lifted.
      tags: {
        name: `${method} ${url.replace(/^https?:\/\/[^/]+/, '').replace(/\/bans\/.+$/, '/bans/:ip')}`,
        ...extra.tags,
      },
    }),
  );
}

export function json(res) {
  try {
    return res.json();
  } catch {
    return null;
  }
}

/** fresh | stale | unavailable | rejected | error, from a board answer. */
export function sourceOf(res, body) {
  if (res.status === 200) return body?.stale ? 'stale' : 'fresh';
  if (res.status === 503) return 'unavailable';
  if (res.status >= 400 && res.status < 500) return 'rejected';
  return 'error';
}

/**
 * GET /api/departures for `route` ({from, to}); counts the answer in `answers` and
 * `stale_answers` and returns it with its parsed body and source.
 */
export function board(route, extra = {}) {
  const id = requestId();
  const res = http.get(
    `${config.baseUrl}/api/departures?from=${route.from}&to=${route.to}&rows=10`,
    params({
      ...extra,
      headers: { 'X-Request-ID': id, ...extra.headers },
      tags: { name: BOARD, ...extra.tags },
    }),
  );
  const body = res.status === 200 || res.status >= 400 ? json(res) : null;
  const source = sourceOf(res, body);
  // The request's own tags (e.g. kind) go on these too, so thresholds can select by them.
  const { name: _name, ...tags } = extra.tags ?? {};
  answers.add(1, { ...tags, source });
  staleAnswers.add(source === 'stale', tags);
  return { res, body, source, id };
}

/**
 * The checks every board answer from a working platform passes: 200, a board with a service
 * list, the request ID echoed, and a stale board marked as such in the body and the headers.
 */
export function checkBoard({ res, body, id }, name = 'board') {
  return check(res, {
    [`${name}: status 200`]: (r) => r.status === 200,
    [`${name}: has a board`]: () => Array.isArray(body?.board?.trainServices ?? []) && !!body?.board?.crs,
    [`${name}: echoes X-Request-ID`]: (r) => r.headers['X-Request-Id'] === id,
    [`${name}: stale is marked (body, Warning, X-Board-Source)`]: (r) =>
      r.status !== 200 ||
      (body?.stale === true) ===
        (String(r.headers.Warning ?? '').startsWith('110') && r.headers['X-Board-Source'] === 'stale'),
  });
}
