import { createServiceRuntime, loadOrExit, serve } from '@failway/telemetry';
import { RoutesFile } from './adapters/routes-file.ts';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

const runtime = createServiceRuntime('route-config');
const config = await loadOrExit(loadConfig);
const routes = await loadOrExit(() =>
  RoutesFile.open(
    config.ROUTES_FILE,
    { from: config.DEFAULT_FROM, to: config.DEFAULT_TO },
    runtime.logger,
    runtime.metrics,
  ),
);
routes.watch(config.ROUTES_POLL_MS);

await serve(createApp(runtime, routes), {
  port: config.PORT,
  host: config.HOST,
  logger: runtime.logger,
  health: runtime.health,
  drainDelayMs: runtime.env.SHUTDOWN_DRAIN_DELAY_MS,
  limits: { maxConnections: runtime.env.HTTP_MAX_CONNECTIONS },
  onClose: () => routes.stop(),
});
runtime.logger.info('route-config ready', {
  routes_file: config.ROUTES_FILE,
  stations: routes.catalog.stations.length,
  routes: routes.catalog.routes.length,
  default_route: `${config.DEFAULT_FROM}>${config.DEFAULT_TO}`,
});
