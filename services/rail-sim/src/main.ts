import { createServiceRuntime, loadOrExit, serve } from '@failway/telemetry';
import { createApp } from './app.ts';
import { loadConfig } from './config.ts';

const config = await loadOrExit(loadConfig);

const runtime = createServiceRuntime('rail-sim');
await serve(createApp(runtime, config), {
  port: config.PORT,
  host: config.HOST,
  logger: runtime.logger,
  health: runtime.health,
  drainDelayMs: runtime.env.SHUTDOWN_DRAIN_DELAY_MS,
  limits: { maxConnections: runtime.env.HTTP_MAX_CONNECTIONS },
});
runtime.logger.info('rail-sim ready', {
  ban_threshold: config.BAN_THRESHOLD,
  ban_window_s: config.BAN_WINDOW_S,
  ban_duration_s: config.BAN_DURATION_S,
  ban_style: config.BAN_STYLE,
  admin_api: config.ADMIN_TOKEN ? 'enabled' : 'disabled',
});
