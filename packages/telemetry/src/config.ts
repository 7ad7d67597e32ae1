import { z } from 'zod';

/** Turns a zod failure into one message that names each bad variable. */
export function formatConfigError(error: z.ZodError): string {
  const lines = error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  return `Invalid configuration:\n${lines.join('\n')}`;
}

/**
 * Parses the environment once with a zod object schema; on failure throws an error whose message
 * names every offending variable.
 */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) throw new Error(formatConfigError(result.error));
  return result.data;
}

/** A TCP port from a string variable; 0 means "any free port". */
export const portVar = (description: string, fallback: number) =>
  z.coerce.number().int().min(0).max(65_535).default(fallback).describe(description);

/** An empty string counts as unset, the way shells and compose files pass blanks. */
export const optionalString = (description: string) =>
  z.preprocess((v) => (v === '' ? undefined : v), z.string().optional()).describe(description);

/** Telemetry settings every service shares. */
export const telemetryEnvSchema = z.object({
  OTEL_SERVICE_NAME: optionalString(
    'Service name on logs, metrics and spans; each service has its own default.',
  ),
  LOG_LEVEL: z
    .enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'])
    .default('info')
    .describe('Lowest winston level written.'),
  SYSLOG_HOST: optionalString('Syslog server for RFC 5424 over TCP; logging to syslog is off when unset.'),
  SYSLOG_PORT: z.coerce
    .number()
    .int()
    .min(1)
    .max(65_535)
    .default(601)
    .describe('Syslog server TCP port (601 = syslog-conn).'),
  SHUTDOWN_DRAIN_DELAY_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(0)
    .describe('Wait between readiness off and closing the listener (Kubernetes: a few seconds).'),
  HTTP_MAX_CONNECTIONS: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(1_000)
    .describe('Most open client connections to the HTTP server; more are closed at once.'),
});
export type TelemetryEnv = z.infer<typeof telemetryEnvSchema>;

/**
 * Start-up: runs `load` (which validates the environment, reads files...) and, when it throws,
 * prints its message (it names the bad variable or file) and exits 1 instead of a stack trace.
 */
export async function loadOrExit<T>(load: () => T | Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
}

/**
 * Admin tokens this repository ships as examples (`npm start`, compose, the local Kubernetes
 * overlay): anyone who read the README knows them, so production mode refuses them.
 */
export const DEMO_ADMIN_TOKENS: readonly string[] = ['dev-admin-token', 'local-demo-admin-token'];

/**
 * The ADMIN_TOKEN variable: a bearer token of 8 characters or more; unset (or empty) turns the
 * admin API off. Pair it with {@link refuseDemoAdminToken} on the object schema.
 */
export const adminTokenVar = (description: string) =>
  optionalString(description).refine(
    (v) => v === undefined || v.length >= 8,
    'must be at least 8 characters',
  );

/** NODE_ENV as the services read it: only `production` changes anything (secrets are checked). */
export const nodeEnvVar = optionalString('production: refuse demo secrets such as the example ADMIN_TOKEN.');

/**
 * With NODE_ENV=production, ADMIN_TOKEN must be set and must not be one of DEMO_ADMIN_TOKENS: a
 * production service with no admin token, or with one printed in the README, is a mistake to
 * stop at start-up rather than find later. Use as `.superRefine(refuseDemoAdminToken)`.
 */
export function refuseDemoAdminToken(
  config: { NODE_ENV?: string | undefined; ADMIN_TOKEN?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (config.NODE_ENV !== 'production') return;
  if (config.ADMIN_TOKEN === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['ADMIN_TOKEN'],
      message:
        'is required with NODE_ENV=production: set it to a secret of your own, e.g. the output of `openssl rand -hex 24`',
    });
  } else if (DEMO_ADMIN_TOKENS.includes(config.ADMIN_TOKEN)) {
    ctx.addIssue({
      code: 'custom',
      path: ['ADMIN_TOKEN'],
      message: `is the demo token "${config.ADMIN_TOKEN}", refused with NODE_ENV=production: set it to a secret of your own, e.g. the output of \`openssl rand -hex 24\``,
    });
  }
}
