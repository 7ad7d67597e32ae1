import { fileURLToPath } from 'node:url';
import { parseEnv, portVar } from '@failway/telemetry';
import { z } from 'zod';

const crs = (description: string, fallback: string) =>
  z
    .string()
    .transform((v) => v.trim().toUpperCase())
    .pipe(z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter CRS station code such as WHP'))
    .default(fallback)
    .describe(description);

const schema = z.object({
  PORT: portVar('HTTP port.', 8081),
  HOST: z.string().min(1).default('127.0.0.1').describe('Address to listen on (0.0.0.0 in containers).'),
  ROUTES_FILE: z
    .string()
    .min(1)
    .default(fileURLToPath(new URL('../config/routes.yaml', import.meta.url)))
    .describe('YAML file with the stations and preset routes (a ConfigMap mount in Kubernetes).'),
  DEFAULT_FROM: crs('Departure station of the route shown first.', 'WHP'),
  DEFAULT_TO: crs('Destination station of the route shown first.', 'LTN'),
  ROUTES_POLL_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(2_000)
    .describe('How often the routes file is re-read as a safety net to watching it.'),
});

export type Config = z.infer<typeof schema>;

/** Reads and checks the service's environment once; throws naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(schema, env);
}
