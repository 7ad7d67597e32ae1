import { optionalString, parseEnv, portVar } from '@failway/telemetry';
import { z } from 'zod';

const urlList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((u) => u.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1, 'must name at least one URL'));

const schema = z.object({
  PORT: portVar('HTTP port.', 8080),
  HOST: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 in containers).'),
  ROUTE_CONFIG_URL: z.url().default('http://127.0.0.1:8081').describe('Base URL of route-config.'),
  DEPARTURES_URLS: urlList
    .default(['http://127.0.0.1:8082', 'http://127.0.0.1:8083'])
    .describe('Comma-separated base URLs of the departures replicas.'),
  DEPARTURES_DNS: optionalString(
    'host:port of a headless Service; when set, the replicas are its A records (re-resolved every DEPARTURES_DNS_REFRESH_MS) instead of DEPARTURES_URLS.',
  ).refine((v) => v === undefined || /^[A-Za-z0-9.-]+:\d{1,5}$/.test(v), 'must be host:port'),
  DEPARTURES_DNS_REFRESH_MS: z.coerce
    .number()
    .int()
    .min(500)
    .max(600_000)
    .default(10_000)
    .describe('How often DEPARTURES_DNS is resolved.'),
  DEPARTURES_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(3_000)
    .describe('Deadline of one request to a replica.'),
  DEPARTURES_CONNECT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(30_000)
    .default(1_000)
    .describe('Deadline for a TCP connection to a replica (board requests and /readyz checks).'),
  READYZ_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(30_000)
    .default(1_000)
    .describe("Deadline of one check of a replica's /readyz; no answer by then counts it down."),
  BREAKER_ERROR_PERCENT: z.coerce
    .number()
    .int()
    .min(1)
    .max(100)
    .default(50)
    .describe(
      "Share of a replica's requests (percent, over BREAKER_WINDOW_MS) that must fail for its circuit to open. Banned and out-of-budget answers are not failures.",
    ),
  BREAKER_VOLUME_THRESHOLD: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(4)
    .describe('Requests to a replica within BREAKER_WINDOW_MS before its circuit may open at all.'),
  BREAKER_RESET_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(5_000)
    .describe('How long an open circuit stays open before one trial request (half-open).'),
  BREAKER_WINDOW_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(600_000)
    .default(10_000)
    .describe('The rolling window over which the circuit breaker counts failures (10 buckets).'),
  STALE_RETRY_WITHIN_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(1_000)
    .describe(
      'Ask another replica after a stale answer only when it came within this time (a slow stale answer means a slow upstream).',
    ),
  HEALTH_CHECK_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(2_000)
    .describe("How often each replica's /readyz is checked."),
  EJECT_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(10)
    .describe('How long a replica that failed a request is left out.'),
  LAST_GOOD_MAX_AGE_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(3_600)
    .describe('Oldest last good board served when every replica is out.'),
  ROUTES_CACHE_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(30)
    .describe('How long stations and routes from route-config are used before asking again.'),
  ROUTE_CONFIG_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(60_000)
    .default(1_500)
    .describe('Deadline of one request to route-config.'),
  ROUTES_RETRY_MAX_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(3_600)
    .default(60)
    .describe(
      'Longest wait between background refreshes of the catalog while route-config fails (the wait doubles from 1 s up to this); requests are answered from the last catalog meanwhile.',
    ),
  RATE_LIMIT_PER_MIN: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(300)
    .describe('Requests per client IP per minute to /api.'),
  NEW_ROUTES_PER_CLIENT_PER_MIN: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(20)
    .describe(
      'Board requests per client IP per minute for routes the gateway holds no board for (each may cost the replicas an upstream call, and the upstream bans callers that call too often); more get 429. Routes served before are not counted.',
    ),
  TRUST_PROXY: z
    .string()
    .default('false')
    .describe(
      'express "trust proxy" (e.g. 1 or loopback) so the rate limit sees client IPs behind an ingress.',
    ),
  ADMIN_TOKEN: optionalString('Bearer token of GET /admin/upstreams; the endpoint is off when unset.').refine(
    (v) => v === undefined || v.length >= 8,
    'must be at least 8 characters',
  ),
  FAILOVER: z
    .enum(['on', 'off'])
    .default('on')
    .transform((v) => v === 'on')
    .describe('off: plain round robin, no retries, no last good boards (the control run of the load tests).'),
});

export type Config = z.infer<typeof schema>;

/** Reads and checks the gateway's environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
