import { parseEnv, type TelemetryEnv, telemetryEnvSchema } from './config.ts';
import { Health, type ReadinessState } from './health.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';

export interface ServiceRuntime {
  service: string;
  env: TelemetryEnv;
  logger: Logger;
  metrics: ServiceMetrics;
  health: Health;
}

/**
 * The observability a service starts with: its name, logger (stdout + optional syslog, drops
 * counted), metrics registry and health state, from the shared telemetry variables.
 */
export function createServiceRuntime(
  defaultName: string,
  env: NodeJS.ProcessEnv = process.env,
  readiness?: () => ReadinessState,
): ServiceRuntime {
  const telemetryEnv = parseEnv(telemetryEnvSchema, env);
  const service = telemetryEnv.OTEL_SERVICE_NAME ?? defaultName;
  const metrics = createMetrics(service);
  const logger = createLogger({
    service,
    level: telemetryEnv.LOG_LEVEL,
    syslog: telemetryEnv.SYSLOG_HOST
      ? { host: telemetryEnv.SYSLOG_HOST, port: telemetryEnv.SYSLOG_PORT }
      : undefined,
    onSyslogDrop: (n) => metrics.syslogDropped.inc(n),
    onStdoutDrop: (n) => metrics.stdoutDropped.inc(n),
  });
  return { service, env: telemetryEnv, logger, metrics, health: new Health(readiness) };
}
