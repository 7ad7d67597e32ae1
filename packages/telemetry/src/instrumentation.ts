import { register } from 'node:module';

// The ESM loader hook must be in place before express and winston are imported, or their
// modules are not patched (http and undici spans would still appear, express spans would not).
register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);

const { startTelemetry } = await import('./sdk.ts');

/**
 * Entry for `node --import`: starts OpenTelemetry for the service named by OTEL_SERVICE_NAME
 * (each service's own `src/instrumentation.ts` sets its default name first).
 */
export const telemetry = startTelemetry();
