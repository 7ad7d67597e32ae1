import { startTelemetry } from './sdk.ts';

/**
 * Entry for `node --import`: starts OpenTelemetry for the service named by OTEL_SERVICE_NAME
 * (each service's own `src/instrumentation.ts` sets its default name first), before the app is
 * imported, so `http` is patched before express creates its server.
 *
 * No ESM loader hook is registered: the http instrumentation patches the built-in module, undici
 * reports over diagnostics_channel, the route names server spans through our own middleware
 * (packages/telemetry/src/http.ts), and log records get their trace context from our logger's
 * format. A loader hook (import-in-the-middle) wrapped every module the app loads, which cost
 * each service about 45 MB and part of its start-up time (docs/performance.md).
 */
export const telemetry = startTelemetry();
