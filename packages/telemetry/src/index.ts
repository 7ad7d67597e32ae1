export { bearerAuth } from './auth.ts';
export {
  ConnectTimeoutError,
  createHttpClient,
  errorKind,
  type HttpClient,
  type HttpClientOptions,
  type HttpMethod,
  type HttpResponse,
  keepAliveAgent,
  ResponseCutOffError,
  ResponseTooLargeError,
  type SendOptions,
  sendRequest,
} from './client.ts';
export {
  adminTokenVar,
  DEMO_ADMIN_TOKENS,
  formatConfigError,
  loadOrExit,
  nodeEnvVar,
  optionalString,
  parseEnv,
  portVar,
  refuseDemoAdminToken,
  type TelemetryEnv,
  telemetryEnvSchema,
} from './config.ts';
export { currentRequestId, type RequestContext, requestContext } from './context.ts';
export { AppError, type AppErrorOptions, invalidParameter, notFound, problemType } from './errors.ts';
export { Health, type ReadinessState } from './health.ts';
export {
  createServiceApp,
  MAX_URL_LENGTH,
  problemHandler,
  type ServiceAppOptions,
  staticFiles,
} from './http.ts';
export { onShutdown, runShutdownHooks } from './lifecycle.ts';
export { createLogger, type Logger, type LoggerOptions } from './logger.ts';
export { createMetrics, DURATION_BUCKETS, exemplarFor, render, type ServiceMetrics } from './metrics.ts';
export { REQUEST_ID_HEADER, resolveRequestId } from './request-id.ts';
export { createServiceRuntime, type ServiceRuntime } from './runtime.ts';
export {
  DEFAULT_SERVER_LIMITS,
  type RunningServer,
  type ServeOptions,
  type ServerLimits,
  serve,
} from './serve.ts';
export { activeTraceIds, recordSpanError, withSpan } from './spans.ts';
