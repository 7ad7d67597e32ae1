import { fileURLToPath } from 'node:url';
import { createServiceApp, type ServiceRuntime, staticFiles } from '@failway/telemetry';
import type { Express } from 'express';
import { createApiObserver } from './adapters/observer.ts';
import type { CatalogSource } from './adapters/route-config.ts';
import { adminRoutes, type UpstreamsView } from './http/admin.ts';
import { apiRoutes, type BoardsApi } from './http/api.ts';

export interface AppDeps {
  runtime: ServiceRuntime;
  routes: CatalogSource;
  boards: BoardsApi;
  pool: UpstreamsView;
  rateLimitPerMinute: number;
  /** Requests per client IP per minute for routes the gateway holds no board for. */
  newRoutesPerClientPerMinute: number;
  adminToken: string | undefined;
  trustProxy: string;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

/** The gateway HTTP app: board page, JSON API, admin view; no listening, no side effects. */
export function createApp(deps: AppDeps): Express {
  const app = createServiceApp({
    logger: deps.runtime.logger,
    metrics: deps.runtime.metrics,
    health: deps.runtime.health,
    routes: (app) => {
      app.use((_req, res, next) => {
        res.setHeader(
          'Content-Security-Policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        );
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Referrer-Policy', 'no-referrer');
        next();
      });
      apiRoutes(app, { ...deps, observer: createApiObserver(deps.runtime.metrics) });
      if (deps.adminToken) adminRoutes(app, deps.adminToken, deps.pool);
      app.use(staticFiles(PUBLIC_DIR, { index: 'index.html', maxAge: '5m', etag: true }));
    },
  });
  app.set('trust proxy', parseTrustProxy(deps.trustProxy));
  return app;
}

function parseTrustProxy(value: string): boolean | number | string {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return /^\d+$/.test(value) ? Number(value) : value;
}
