import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@failway/telemetry';
import type { Express } from 'express';

export interface OpsListener {
  port: number;
  /** Stops listening and ends its connections (Prometheus keeps its scrape connection open). */
  close(): Promise<void>;
}

/**
 * Listens for the ops app on OPS_PORT and says so in an `ops listening` log line, which comes
 * before the public listener's `listening` line: whoever learns the ports from the log (the
 * stack's tests, with OPS_PORT=0) knows both once the service is up.
 */
export async function listenOps(
  app: Express,
  options: { port: number; host: string; logger: Logger },
): Promise<OpsListener> {
  const server: Server = app.listen(options.port, options.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info('ops listening', { port, host: options.host });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
