import { createHttpClient, type HttpClient, type ServiceMetrics } from '@failway/telemetry';
import type { RailApi } from '../domain/departures.ts';

export interface RailApiOptions {
  baseUrl: string;
  apiKey: string;
  localAddress?: string | undefined;
  timeoutMs: number;
  metrics: ServiceMetrics;
}

/** The LDBWS REST API (or rail-sim standing in for it) over a keep-alive undici pool. */
export function createRailApi(options: RailApiOptions): RailApi & { close(): Promise<void> } {
  const client: HttpClient = createHttpClient({
    peerService: 'rail-sim',
    baseUrl: options.baseUrl,
    metrics: options.metrics,
    localAddress: options.localAddress,
    timeoutMs: options.timeoutMs,
    connectTimeoutMs: Math.min(1_000, options.timeoutMs),
  });
  return {
    async getDepartureBoard({ crs, filterCrs, numRows }) {
      const params = new URLSearchParams({ numRows: String(numRows) });
      if (filterCrs) {
        params.set('filterCrs', filterCrs);
        params.set('filterType', 'to');
      }
      return client.request(
        `/LDBWS/api/20220120/GetDepBoardWithDetails/${encodeURIComponent(crs)}?${params}`,
        {
          headers: { 'x-apikey': options.apiKey, accept: 'application/json' },
        },
      );
    },
    close: () => client.close(),
  };
}
