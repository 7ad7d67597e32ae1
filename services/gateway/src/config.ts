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
  RATE_LIMIT_PER_MIN: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(300)
    .describe('Requests per client IP per minute to /api.'),
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
