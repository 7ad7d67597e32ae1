import { startTelemetry } from './sdk.ts';

/**
 * Entry for `node --import`: starts OpenTelemetry for the service named by OTEL_SERVICE_NAME
 * (each service's own `src/instrumentation.ts` sets its default name first), before the app is
 * imported, so the global tracer, propagator and context manager are in place when it starts.
 *
 * No instrumentation and no ESM loader hook is registered: server spans are made by our request
 * middleware (packages/telemetry/src/http.ts), client spans by our HTTP client (client.ts), and
 * log records get their trace context from our logger's format. A loader hook
 * (import-in-the-middle) wrapped every module the app loads, which cost each service about 45 MB
 * and part of its start-up time (docs/performance.md).
 */
export const telemetry = startTelemetry();
