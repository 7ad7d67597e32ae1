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
  /** Addresses and CIDRs of the proxies whose X-Forwarded-For is believed (TRUST_PROXY); none: []. */
  trustProxy: readonly string[];
}

/** The gateway's two HTTP apps, each for its own listener. */
export interface GatewayApps {
  /** PORT, the one published: board page, JSON API, /healthz and /readyz. */
  public: Express;
  /** OPS_PORT, never published: /metrics, /admin/*, /healthz and /readyz. */
  ops: Express;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public', import.meta.url));

/**
 * The gateway HTTP apps: the public one (board page, JSON API) and the ops one (metrics, admin
 * view), which only Prometheus, probes and operators reach. No listening, no side effects.
 */
export function createApps(deps: AppDeps): GatewayApps {
  const { logger, metrics, health } = deps.runtime;
  const publicApp = createServiceApp({
    logger,
    metrics,
    health,
    metricsEndpoint: false,
    responseHeaders: {
      'Content-Security-Policy':
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    },
    routes: (app) => {
      apiRoutes(app, { ...deps, observer: createApiObserver(metrics) });
      app.use(staticFiles(PUBLIC_DIR, { index: 'index.html', maxAge: '5m', etag: true }));
    },
  });
  // Only the listed proxies' X-Forwarded-For is read; from anyone else, req.ip is the peer address.
  publicApp.set('trust proxy', deps.trustProxy.length > 0 ? [...deps.trustProxy] : false);
  const ops = createServiceApp({
    logger,
    metrics,
    health,
    routes: (app) => {
      if (deps.adminToken) adminRoutes(app, deps.adminToken, deps.pool);
    },
  });
  return { public: publicApp, ops };
}
