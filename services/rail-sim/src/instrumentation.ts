// Loaded with `node --import` before the app, so the tracer, propagator and context manager are in
// place when it starts (packages/telemetry/src/instrumentation.ts). The name is set first because
// the SDK reads it at start.
process.env.OTEL_SERVICE_NAME ||= 'rail-sim';
await import('@failway/telemetry/instrumentation');
