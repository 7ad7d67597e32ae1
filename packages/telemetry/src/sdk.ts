import { hostname } from 'node:os';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  type BatchSpanProcessorOptions,
  NoopSpanProcessor,
  type SpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import {
  type InboundTraceContext,
  inboundTraceContextFromEnv,
  UntrustedInboundPropagator,
} from './inbound.ts';
import { onShutdown } from './lifecycle.ts';
import { samplerFromEnv } from './sampler.ts';

/**
 * The batch span processor settings of the standard OTEL_BSP_* variables. @opentelemetry/sdk-trace 3
 * no longer reads them itself, so without this OTEL_BSP_SCHEDULE_DELAY was silently ignored and
 * spans left every 5 s whatever it said. Values that are not numbers keep the SDK's defaults.
 */
function batchSpanOptions(env: NodeJS.ProcessEnv): Omit<BatchSpanProcessorOptions, 'exporter'> {
  const read = (name: string, min: number): number | undefined => {
    const raw = env[name]?.trim();
    const value = raw ? Number(raw) : Number.NaN;
    return Number.isInteger(value) && value >= min ? value : undefined;
  };
  const options: Omit<BatchSpanProcessorOptions, 'exporter'> = {};
  const delay = read('OTEL_BSP_SCHEDULE_DELAY', 0);
  if (delay !== undefined) options.scheduledDelayMillis = delay;
  const timeout = read('OTEL_BSP_EXPORT_TIMEOUT', 0);
  if (timeout !== undefined) options.exportTimeoutMillis = timeout;
  const queue = read('OTEL_BSP_MAX_QUEUE_SIZE', 1);
  if (queue !== undefined) options.maxQueueSize = queue;
  const batch = read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1);
  if (batch !== undefined) options.maxExportBatchSize = batch;
  return options;
}

export interface TelemetryOptions {
  /** Overrides OTEL_SERVICE_NAME. */
  serviceName?: string;
  serviceVersion?: string;
  /** Replaces the exporter chosen from the environment (tests pass an in-memory one). */
  spanProcessors?: SpanProcessor[];
  /** Overrides TRACE_INBOUND_CONTEXT: join callers' traces, or link to them (see inbound.ts). */
  inboundTraceContext?: InboundTraceContext;
  env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  serviceName: string;
  exporting: boolean;
  /** False when OTEL_SDK_DISABLED=true: no spans, no context manager, no propagation. */
  enabled: boolean;
  /** What inbound trace context does: joined (internal services) or linked (the public edge). */
  inboundTraceContext: InboundTraceContext;
  shutdown(): Promise<void>;
}

/**
 * Starts tracing: a TracerProvider with W3C trace context and baggage propagation, async-local
 * context (spans are made by the request middleware and the HTTP client; nothing is patched), and
 * OTLP/HTTP trace export when
 * OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable) is set. Without an endpoint spans
 * are still made, so logs and exemplars carry trace IDs, but nothing is exported.
 * TRACE_INBOUND_CONTEXT=link (the gateway) starts a new trace for every inbound request, linked to
 * the caller's span, instead of joining the caller's trace (inbound.ts).
 *
 * Only these parts, not @opentelemetry/sdk-node: that SDK also loads the metrics and logs SDKs and
 * their exporters (prom-client owns metrics here and syslog owns logs), which cost each service
 * about 40 MB of memory for nothing (docs/performance.md). OTEL_SDK_DISABLED=true turns it all off.
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry {
  const env = options.env ?? process.env;
  const serviceName = options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'unknown_service:node';
  const inbound = options.inboundTraceContext ?? inboundTraceContextFromEnv(env);
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    return {
      serviceName,
      exporting: false,
      enabled: false,
      inboundTraceContext: inbound,
      shutdown: async () => {},
    };
  }
  const { sampler } = samplerFromEnv(env);
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporting = Boolean(options.spanProcessors) || Boolean(endpoint);
  const spanProcessors = options.spanProcessors ?? [
    endpoint
      ? new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchSpanOptions(env) })
      : new NoopSpanProcessor(),
  ];
  // OTEL_RESOURCE_ATTRIBUTES (e.g. service.namespace=failway) first; the service's own win.
  const resource = envDetector.detect().attributes ?? {};
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      ...resource,
      'service.name': serviceName,
      'service.version': options.serviceVersion ?? env.SERVICE_VERSION ?? '0.1.0',
      'service.instance.id': env.SERVICE_INSTANCE_ID ?? `${hostname()}-${process.pid}`,
      'deployment.environment.name': env.DEPLOYMENT_ENVIRONMENT ?? 'local',
    }),
    spanProcessors,
    ...(sampler ? { sampler } : {}),
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const w3c = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });
  // At the public edge a client's traceparent must neither join our trace (nor force it sampled,
  // past TRACES_PER_SECOND) and its baggage must not reach the internal services.
  propagation.setGlobalPropagator(inbound === 'link' ? new UntrustedInboundPropagator(w3c) : w3c);
  trace.setGlobalTracerProvider(provider);
  let stopped: Promise<void> | undefined;
  const shutdown = () => {
    stopped ??= provider.shutdown();
    return stopped;
  };
  onShutdown('opentelemetry', shutdown);
  return { serviceName, exporting, enabled: true, inboundTraceContext: inbound, shutdown };
}
