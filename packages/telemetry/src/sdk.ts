import { hostname } from 'node:os';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { WinstonInstrumentation } from '@opentelemetry/instrumentation-winston';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  type BatchSpanProcessorOptions,
  NoopSpanProcessor,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { currentRequestId } from './context.ts';
import { onShutdown } from './lifecycle.ts';

/** Paths that are polled by probes and scrapers: tracing them would drown the real traffic. */
export const OPS_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

function pathOf(url: string | undefined): string {
  if (!url) return '';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

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
  env?: NodeJS.ProcessEnv;
}

export interface Telemetry {
  serviceName: string;
  exporting: boolean;
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry Node SDK: http, express, undici and winston instrumentations,
 * OTLP/HTTP trace export when OTEL_EXPORTER_OTLP_ENDPOINT (or the traces-specific variable)
 * is set. Without an endpoint spans are still made, so logs and exemplars carry trace IDs,
 * but nothing is exported and nothing is logged about it.
 */
export function startTelemetry(options: TelemetryOptions = {}): Telemetry {
  const env = options.env ?? process.env;
  const serviceName = options.serviceName ?? env.OTEL_SERVICE_NAME ?? 'unknown_service:node';
  // prom-client owns metrics and syslog owns logs: keep the SDK from trying OTLP for them,
  // which would also stall shutdown for seconds when no collector listens.
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const exporting = Boolean(options.spanProcessors) || Boolean(endpoint);
  const spanProcessors = options.spanProcessors ?? [
    endpoint
      ? new BatchSpanProcessor({ exporter: new OTLPTraceExporter(), ...batchSpanOptions(env) })
      : new NoopSpanProcessor(),
  ];

  const sdk = new NodeSDK({
    resource: resourceFromAttributes({
      'service.name': serviceName,
      'service.version': options.serviceVersion ?? env.SERVICE_VERSION ?? '0.1.0',
      'service.instance.id': env.SERVICE_INSTANCE_ID ?? `${hostname()}-${process.pid}`,
      'deployment.environment.name': env.DEPLOYMENT_ENVIRONMENT ?? 'local',
    }),
    spanProcessors,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => OPS_PATHS.has(pathOf(req.url)),
        // The request ID is also set by the request-ID middleware; setting it here from the raw
        // header covers requests that never reach express (e.g. rejected by the parser).
        requestHook: (span, req) => {
          if ('headers' in req) {
            const id = req.headers['x-request-id'];
            if (typeof id === 'string' && id.length <= 128) span.setAttribute('request.id', id);
          }
        },
      }),
      new ExpressInstrumentation({ ignoreLayersType: [ExpressLayerType.MIDDLEWARE] }),
      new UndiciInstrumentation({
        ignoreRequestHook: (req) => OPS_PATHS.has(pathOf(req.path)),
        startSpanHook: () => {
          const id = currentRequestId();
          return id ? { 'request.id': id } : {};
        },
      }),
      new WinstonInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  onShutdown('opentelemetry', () => sdk.shutdown());
  return { serviceName, exporting, shutdown: () => sdk.shutdown() };
}
