// Loaded with `node --import` before the app, so the tracer, propagator and context manager are in
// place when it starts (packages/telemetry/src/instrumentation.ts). The name is set first because
// the SDK reads it at start.
process.env.OTEL_SERVICE_NAME ||= 'gateway';
// The gateway is the public edge: a client's traceparent/baggage starts a new trace linked to the
// client's span, never joins it (docs/security.md). TRACE_INBOUND_CONTEXT=join only behind a
// proxy that starts traces itself and strips clients' headers.
process.env.TRACE_INBOUND_CONTEXT ||= 'link';
await import('@failway/telemetry/instrumentation');
