import { isIP } from 'node:net';
import {
  adminTokenVar,
  nodeEnvVar,
  optionalString,
  parseEnv,
  portVar,
  refuseDemoAdminToken,
} from '@failway/telemetry';
import { z } from 'zod';
import { type MemberAddress, staticMemberName } from './adapters/member-names.ts';
import type { BreakerOptions } from './adapters/pool.ts';

/** A member name: shown on public boards and used as a metric label, so short and plain. */
const MEMBER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * `departures-a=http://10.0.0.1:8082,http://10.0.0.2:8082`: each entry a base URL, optionally
 * named (`name=url`); unnamed entries are called `departures-a`, `departures-b`, … by position.
 */
const memberList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean)
      .map((entry, i) => {
        const named = /^([^=/:]+)=(.*)$/.exec(entry);
        return named
          ? { name: (named[1] as string).trim(), url: (named[2] as string).trim() }
          : { name: staticMemberName(i), url: entry };
      }),
  )
  .pipe(
    z
      .array(
        z.object({
          name: z
            .string()
            .regex(MEMBER_NAME, 'a member name is lower-case letters, digits and - (at most 63)'),
          url: z.url({ protocol: /^https?$/ }),
        }),
      )
      .min(1, 'must name at least one URL')
      .refine((members) => new Set(members.map((m) => m.name)).size === members.length, 'names must differ')
      .refine((members) => new Set(members.map((m) => m.url)).size === members.length, 'URLs must differ'),
  ) satisfies z.ZodType<MemberAddress[], string>;

const TRUST_PRESETS = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** One TRUST_PROXY entry: an IP address, a CIDR (`10.0.0.0/8`), or express's presets. */
function isTrustEntry(entry: string): boolean {
  if (TRUST_PRESETS.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

/**
 * The proxies whose X-Forwarded-For is believed: addresses and CIDRs, never a hop count or `true`
 * (either lets any client choose the address the per-IP limits see).
 */
const trustList = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.string().refine(isTrustEntry, {
          error: (issue) =>
            `"${String(issue.input)}" is not a proxy address: give IP addresses or CIDRs (e.g. 10.0.0.0/8), or loopback, linklocal, uniquelocal; hop counts and true are not accepted`,
        }),
      )
      .max(64),
  );

const schema = z
  .object({
    PORT: portVar('HTTP port of the public API and board page.', 8080),
    OPS_PORT: portVar(
      'HTTP port of /metrics and /admin/* (and /healthz, /readyz): for Prometheus, probes and operators, never published.',
      9080,
    ),
    HOST: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 in containers).'),
    ROUTE_CONFIG_URL: z.url().default('http://127.0.0.1:8081').describe('Base URL of route-config.'),
    DEPARTURES_URLS: memberList
      .default([
        { name: 'departures-a', url: 'http://127.0.0.1:8082' },
        { name: 'departures-b', url: 'http://127.0.0.1:8083' },
      ])
      .describe(
        'Comma-separated base URLs of the departures replicas, each optionally named (name=url); boards say which served them by that name, unnamed ones are departures-a, departures-b, … in order.',
      ),
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
    TRUST_PROXY: trustList
      .default([])
      .describe(
        'Comma-separated addresses or CIDRs of the proxies (the ingress) whose X-Forwarded-For is believed, so the per-client limits see client addresses behind them; none by default. Hop counts are refused.',
      ),
    ADMIN_TOKEN: adminTokenVar(
      'Bearer token of GET /admin/upstreams; the endpoint is off when unset (required, and not a demo token, with NODE_ENV=production).',
    ),
    NODE_ENV: nodeEnvVar,
    FAILOVER: z
      .enum(['on', 'off'])
      .default('on')
      .transform((v) => v === 'on')
      .describe(
        'off: plain round robin, no retries, no last good boards (the control run of the load tests).',
      ),
  })
  .refine((c) => c.OPS_PORT === 0 || c.OPS_PORT !== c.PORT, {
    path: ['OPS_PORT'],
    message: 'must differ from PORT: /metrics and /admin/* must not be served on the public port',
  });

/** With NODE_ENV=production, a missing or demo ADMIN_TOKEN is refused. */
const checkedSchema = schema.superRefine(refuseDemoAdminToken);

export type Config = z.infer<typeof schema>;

/** The BREAKER_* settings as the replica pool takes them (the bench measures the same ones). */
export function breakerSettings(config: Config): BreakerOptions {
  return {
    errorThresholdPercentage: config.BREAKER_ERROR_PERCENT,
    volumeThreshold: config.BREAKER_VOLUME_THRESHOLD,
    resetTimeoutMs: config.BREAKER_RESET_MS,
    rollingWindowMs: config.BREAKER_WINDOW_MS,
  };
}

/** Reads and checks the gateway's environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(checkedSchema, env);
}
