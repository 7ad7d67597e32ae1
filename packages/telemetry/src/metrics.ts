import { Counter, collectDefaultMetrics, Histogram, Registry, type RegistryContentType } from 'prom-client';

export type ServiceRegistry = Registry<RegistryContentType>;

/** Seconds; covers fast cache hits (ms) up to upstream timeouts (s). */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ServiceMetrics {
  registry: ServiceRegistry;
  /** RED: rate is `_count`, errors are 5xx `status_code`, duration is the histogram. */
  httpServerDuration: Histogram<'method' | 'route' | 'status_code'>;
  httpClientDuration: Histogram<'peer_service' | 'method' | 'status_code'>;
  syslogDropped: Counter;
  stdoutDropped: Counter;
}

/**
 * A registry per service with default process metrics and the RED histograms shared by all
 * services. The registry speaks OpenMetrics, which prom-client needs for exemplars; `render`
 * serves the classic text format to scrapers that do not ask for OpenMetrics.
 */
export function createMetrics(service: string): ServiceMetrics {
  const registry: ServiceRegistry = new Registry<RegistryContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  // A `service` label on every series lets one dashboard query work in every stack (native,
  // compose, Kubernetes), whatever job/instance labels the scraper gives.
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    httpServerDuration: new Histogram({
      name: 'http_server_request_duration_seconds',
      help: 'Duration of inbound HTTP requests, by route template and status code.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: DURATION_BUCKETS,
      enableExemplars: true,
      registers: [registry],
    }),
    httpClientDuration: new Histogram({
      name: 'http_client_request_duration_seconds',
      help: 'Duration of outbound HTTP requests, by peer service and status code (or error kind).',
      labelNames: ['peer_service', 'method', 'status_code'],
      buckets: DURATION_BUCKETS,
      enableExemplars: true,
      registers: [registry],
    }),
    syslogDropped: new Counter({
      name: 'log_syslog_dropped_total',
      help: 'Log records not sent to the syslog server because its buffer was full while it was unreachable.',
      registers: [registry],
    }),
    stdoutDropped: new Counter({
      name: 'log_stdout_dropped_total',
      help: 'Log lines not written to stdout because nothing read it and its buffer was full.',
      registers: [registry],
    }),
  };
}

/** Exemplar labels for a trace ID; undefined (not `{}`, which prints an empty exemplar) without one. */
export function exemplarFor(traceId: string | null | undefined): Record<string, string> | undefined {
  return traceId ? { trace_id: traceId } : undefined;
}

const registeredNames = new WeakMap<object, string>();

/**
 * prom-client's OpenMetrics render strips `_total` from counter names in place, so a classic-text
 * render after it would name `departures_upstream_bans_total` `departures_upstream_bans`.
 * Counters are remembered by the name they were registered with and given it back.
 */
function restoreCounterNames(registry: ServiceRegistry): void {
  for (const metric of registry.getMetricsAsArray() as unknown as { type: string; name: string }[]) {
    if (metric.type !== 'counter') continue;
    const registered = registeredNames.get(metric);
    if (registered === undefined) registeredNames.set(metric, metric.name);
    else metric.name = registered;
  }
}

let renderChain: Promise<unknown> = Promise.resolve();

/**
 * Renders the registry in the format the scraper asked for. The content type is a registry-wide
 * setting in prom-client, so renders are serialised to keep concurrent scrapes from mixing formats.
 */
export function render(
  registry: ServiceRegistry,
  accept: string | undefined,
): Promise<{ contentType: string; body: string }> {
  const openMetrics = (accept ?? '').includes('application/openmetrics-text');
  const contentType: RegistryContentType = openMetrics
    ? Registry.OPENMETRICS_CONTENT_TYPE
    : Registry.PROMETHEUS_CONTENT_TYPE;
  const run = renderChain.then(async () => {
    // Remember names before the first OpenMetrics render can change them.
    restoreCounterNames(registry);
    registry.setContentType(contentType);
    try {
      return { contentType, body: await registry.metrics() };
    } finally {
      registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    }
  });
  renderChain = run.catch(() => undefined);
  return run;
}
