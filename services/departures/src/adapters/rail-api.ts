import { createHttpClient, type HttpClient, requestContext, type ServiceMetrics } from '@failway/telemetry';
import type { RailApi } from '../domain/departures.ts';

export interface RailApiOptions {
  baseUrl: string;
  apiKey: string;
  localAddress?: string | undefined;
  timeoutMs: number;
  metrics: ServiceMetrics;
}

/**
 * Largest rail API answer read: a board of 10 services with every calling point is tens of kB,
 * so 1 MiB leaves room and still keeps a broken or hostile upstream from filling the memory.
 */
export const RAIL_API_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * The LDBWS REST API (or rail-sim standing in for it) over a keep-alive connection pool. The rail API
 * is a third party: it is not told our request IDs (they may come from the gateway's clients,
 * and are ours to correlate), so calls to it are made outside the request context, which is where
 * the HTTP client takes the X-Request-ID it forwards from. The trace context still goes (the
 * client injects it from the OpenTelemetry context, which is not left).
 */
export function createRailApi(options: RailApiOptions): RailApi & { close(): Promise<void> } {
  const client: HttpClient = createHttpClient({
    peerService: 'rail-sim',
    baseUrl: options.baseUrl,
    metrics: options.metrics,
    localAddress: options.localAddress,
    timeoutMs: options.timeoutMs,
    connectTimeoutMs: Math.min(1_000, options.timeoutMs),
    maxResponseBytes: RAIL_API_MAX_RESPONSE_BYTES,
  });
  return {
    async getDepartureBoard({ crs, filterCrs, numRows }) {
      const params = new URLSearchParams({ numRows: String(numRows) });
      if (filterCrs) {
        params.set('filterCrs', filterCrs);
        params.set('filterType', 'to');
      }
      return requestContext.exit(() =>
        client.request(`/LDBWS/api/20220120/GetDepBoardWithDetails/${encodeURIComponent(crs)}?${params}`, {
          headers: { 'x-apikey': options.apiKey, accept: 'application/json' },
        }),
      );
    },
    close: () => client.close(),
  };
}
