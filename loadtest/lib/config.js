// Everything a script needs to know about its target, from the environment (`k6 run -e` or the
// process environment). Defaults are what `npm start` runs.

const trimSlash = (url) => url.replace(/\/+$/, '');

function number(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  return value;
}

/** Seconds in a k6 duration such as `90s`, `2m`, `1h30m`. */
export function seconds(duration) {
  const text = String(duration).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) {
    throw new Error(`"${duration}" is not a duration such as 30s, 2m or 1h`);
  }
  return parts.reduce((sum, [, n, unit]) => sum + Number(n) * { h: 3600, m: 60, s: 1 }[unit], 0);
}

/** SHORT=true picks each script's CI length (tens of seconds) instead of its full one. */
export const SHORT = ['1', 'true', 'yes'].includes(String(__ENV.SHORT ?? '').toLowerCase());

export const config = {
  /** The gateway. */
  baseUrl: trimSlash(__ENV.BASE_URL || 'http://localhost:8080'),
  /** The gateway's ops port: its /metrics and /admin/upstreams (not on the public port). */
  gatewayOpsUrl: trimSlash(__ENV.GATEWAY_OPS_URL || 'http://localhost:9080'),
  /** rail-sim, for its admin API (bans, faults, ban history). */
  railsimUrl: trimSlash(__ENV.RAILSIM_URL || 'http://localhost:8090'),
  /** Bearer token of rail-sim's and the gateway's admin APIs (`npm start` uses dev-admin-token). */
  adminToken: __ENV.ADMIN_TOKEN || 'dev-admin-token',
  /** Where handleSummary writes <script>.json and <script>.txt. */
  summaryDir: trimSlash(__ENV.SUMMARY_DIR || 'test-output/k6'),
  /** REPLICA_IPS, or the loopback addresses `npm start` replicas call from (see replicaAddresses). */
  replicaIps: (__ENV.REPLICA_IPS || '127.0.0.2,127.0.0.3,127.0.0.1')
    .split(',')
    .map((ip) => ip.trim())
    .filter(Boolean),
  /** How long setup() waits for the target to be ready before giving up. */
  readyTimeoutSeconds: number('READY_TIMEOUT_S', 15),
  number,
};
