import { adminTokenVar, nodeEnvVar, parseEnv, portVar, refuseDemoAdminToken } from '@failway/telemetry';
import { z } from 'zod';
import { BAN_STYLES } from './domain/bans.ts';

/** How far the boards' clock may be shifted either way (SIM_TIME_OFFSET_MIN, PUT /admin/clock). */
export const SIM_TIME_OFFSET_MAX_MIN = 1440;

const schema = z
  .object({
    PORT: portVar('HTTP port.', 8090),
    HOST: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 in containers).'),
    RAIL_API_KEYS: z
      .string({ error: 'is required: comma-separated API keys accepted in the x-apikey header' })
      .min(1, 'is required: comma-separated API keys accepted in the x-apikey header')
      .transform((v) =>
        v
          .split(',')
          .map((k) => k.trim())
          .filter(Boolean),
      )
      .refine((keys) => keys.length > 0, 'must name at least one key')
      .describe('Comma-separated API keys accepted in the x-apikey header.'),
    BAN_THRESHOLD: z.coerce
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(60)
      .describe('More calls than this from one IP within BAN_WINDOW_S bans it.'),
    BAN_WINDOW_S: z.coerce
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe('Sliding window of the per-IP limit.'),
    BAN_DURATION_S: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .default(3_600)
      .describe('How long a ban lasts (the real API: 60 minutes).'),
    BAN_STYLE: z
      .enum(BAN_STYLES)
      .default('429')
      .describe('How banned callers are answered: 429 JSON, 403 HTML, 503, or a silent empty board.'),
    ADMIN_TOKEN: adminTokenVar(
      'Bearer token of the fault-injection admin API; the API is off when unset (required, and not a demo token, with NODE_ENV=production).',
    ),
    NODE_ENV: nodeEnvVar,
    SIM_SEED: z
      .string()
      .min(1)
      .default('failway')
      .describe('Seed of the generated timetable and its delays.'),
    SIM_TIME_OFFSET_MIN: z.coerce
      .number()
      .int()
      .min(-SIM_TIME_OFFSET_MAX_MIN)
      .max(SIM_TIME_OFFSET_MAX_MIN)
      .default(0)
      .describe(
        'Shifts the simulated clock of the boards (not of bans), e.g. to show rush hour at night; PUT /admin/clock moves it at run time.',
      ),
    LATENCY_MIN_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(80)
      .describe('Least time an answer takes.'),
    LATENCY_MAX_MS: z.coerce
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(250)
      .describe('Most time an answer takes (before injected latency).'),
  })
  .refine((c) => c.LATENCY_MAX_MS >= c.LATENCY_MIN_MS, {
    path: ['LATENCY_MAX_MS'],
    message: 'must be at least LATENCY_MIN_MS',
  })
  .superRefine(refuseDemoAdminToken);

export type Config = z.infer<typeof schema>;

/** Reads and checks the simulator's environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
