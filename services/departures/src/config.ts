import { isIP } from 'node:net';
import { optionalString, parseEnv, portVar } from '@failway/telemetry';
import { z } from 'zod';

const seconds = (description: string, fallback: number, max = 86_400) =>
  z.coerce.number().int().min(0).max(max).default(fallback).describe(description);

const schema = z.object({
  PORT: portVar('HTTP port.', 8082),
  HOST: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 in containers).'),
  UPSTREAM_URL: z
    .url()
    .default('http://127.0.0.1:8090')
    .describe('Base URL of the rail data API (rail-sim locally).'),
  UPSTREAM_API_KEY: z
    .string({ error: 'is required: the x-apikey the rail data API expects' })
    .min(1, 'is required: the x-apikey the rail data API expects')
    .describe('API key for the rail data API.'),
  UPSTREAM_LOCAL_ADDRESS: optionalString(
    'Local address outgoing upstream connections bind to, so replicas on one machine look like distinct client IPs.',
  ).refine((v) => v === undefined || isIP(v) !== 0, 'must be an IP address such as 127.0.0.2'),
  UPSTREAM_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(2_000)
    .describe('Deadline of one upstream call.'),
  CACHE_TTL_S: seconds('A board this young is served without asking the upstream.', 30),
  STALE_MAX_AGE_S: seconds('Oldest board served when the upstream cannot be asked (stale-if-error).', 3_600),
  CACHE_MAX_ENTRIES: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1_000)
    .describe('Most routes kept in the cache.'),
  // rail-sim bans an IP making more than 60 calls in 60 s by default; burst + one minute of refill
  // (10 + 40 = 50) keeps a replica under that in any window.
  UPSTREAM_BUDGET_PER_MIN: z.coerce
    .number()
    .min(0.1)
    .max(100_000)
    .default(40)
    .describe('Sustained upstream calls per minute.'),
  UPSTREAM_BUDGET_BURST: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(10)
    .describe('Upstream calls allowed at once after a quiet spell.'),
  BAN_ASSUMED_DURATION_S: seconds(
    'Ban length assumed when the upstream does not say (HTML 403, silent bans); re-probed after.',
    300,
  ),
  BAN_MAX_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(7 * 86_400)
    .default(7_200)
    .describe(
      'Longest ban believed: an announced expiry (Retry-After, X-Ban-Expires, bannedUntil) later than this is cut to it, so a wrong header cannot keep a replica out for days.',
    ),
  SILENT_BAN_DETECTION: z
    .enum(['true', 'false'])
    .default('true')
    .transform((v) => v === 'true')
    .describe(
      'Treat an empty board as a silent ban when the previous board of the route listed a train still due (2 min or more ahead); after the last train an empty board is just empty.',
    ),
  BAN_PROBE_INTERVAL_S: seconds(
    'While banned, ask the upstream again this often anyway, to notice a ban lifted early (0: only at the announced expiry).',
    300,
  ),
  // Demand first (see UpstreamBudget in domain/budget.ts). With the defaults — TTL 30 s, budget
  // 10 + 40/min — each route in demand is renewed once its board is 24 s old, and up to 3 of the 10
  // tokens are held back from cold routes, one per route in demand whose renewal is due within
  // 4.5 s (the time 40/min takes to refill 3 tokens). The budget sustains about 16 routes in demand
  // (40/min over one renewal per 24 s) before cold routes get nothing; rail-sim bans above 60/min.
  REFRESH_AHEAD: z
    .enum(['on', 'off'])
    .default('on')
    .transform((v) => v === 'on')
    .describe(
      'Demand first: renew boards of routes asked for twice within REFRESH_AHEAD_RECENT_S in the last 20 % of CACHE_TTL_S, in the background, and hold REFRESH_AHEAD_SHARE of the budget back from cold routes. Needs CACHE_TTL_S of 5 s or more for the renewals; off: one plain budget.',
    ),
  REFRESH_AHEAD_SHARE: z.coerce
    .number()
    .min(0)
    .max(0.9)
    .default(0.3)
    .describe(
      'Most of UPSTREAM_BUDGET_BURST (a share, in whole tokens) that cold cache misses may not take: one token per route in demand whose renewal is due before the bucket could refill the whole share. Refresh-ahead and routes in demand may use the whole budget.',
    ),
  REFRESH_AHEAD_RECENT_S: z.coerce
    .number()
    .int()
    .min(1)
    .max(86_400)
    .default(120)
    .describe(
      'A route asked for at least twice within this many seconds is in demand (120 s: a board page re-asking every 30–60 s stays in demand; a one-off lookup never is).',
    ),
  UPSTREAM_ERROR_RETRY_AFTER_S: seconds(
    'Retry-After sent when the upstream failed and no board can be served.',
    5,
    3_600,
  ),
});

export type Config = z.infer<typeof schema>;

/** Reads and checks the service's environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}

/** Most rows a caller may ask for; GetDepBoardWithDetails returns at most 10. */
export const MAX_ROWS = 10;
