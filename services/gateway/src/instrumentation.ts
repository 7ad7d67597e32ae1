// Loaded with `node --import` before the app, so OpenTelemetry patches express, http, undici and
// winston before they are imported. The name is set first because the SDK reads it at start.
process.env.OTEL_SERVICE_NAME ||= 'gateway';
await import('@failway/telemetry/instrumentation');
