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
