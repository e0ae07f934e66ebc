import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { consoleRoutes } from '@vigil/console';
import { logger, requireAccessControl, SECONDS_BUCKETS, requireStorage, type HealthRegistry, type RoleContext, type Storage, type Telemetry } from '@vigil/platform';
import { answerError } from './errors.js';
import { alertsRoutes } from './routes/alerts.js';
import { clientsRoutes } from './routes/clients.js';
import { entitiesRoutes } from './routes/entities.js';
import { eventsRoutes } from './routes/events.js';
import { hostsRoutes } from './routes/hosts.js';
import { openApiRoutes } from './routes/openapi.js';
import type { RouteOptions } from './routes/options.js';
import { overviewRoutes } from './routes/overview.js';
import { seriesRoutes } from './routes/series.js';
import { sqlRoutes, type SqlLimits } from './routes/sql.js';
import { summaryRoutes } from './routes/summary.js';

export interface QueryApiOptions {
  storage: Storage;
  /** Unix milliseconds; defaults to Date.now. */
  now?: () => number;
  /** Counts requests and their durations on the process's /metrics when given. */
  telemetry?: Telemetry;
  /** The process's dependencies, shown by /api/v1/health/summary and /api/v1/dashboard. */
  health?: HealthRegistry;
  /** Bounds of POST /api/v1/sql (default 10 s, 10,000 rows, 10 MiB, 1 GiB of memory). */
  sqlLimits?: Partial<SqlLimits>;
  /** Serve the web console at / (default true). */
  console?: boolean;
}

export const API_PREFIX = '/api/v1';

/**
 * The query API: `/api/v1/hosts`, `/metrics/series`, `/metrics/summary`, `/alerts`, `/events`,
 * `/dashboard`, `/health/summary`, `/clients`, `/entities`, `/sql`, each group its own plugin,
 * every route of scope `read`; `/openapi.json` (public), generated from every route's schemas; and
 * the web console (`@vigil/console`) at `/`. Encapsulated (not wrapped in
 * fastify-plugin), so its error handler and hooks touch only these routes, not /health or /metrics.
 * Only on a server with the access hook (`createHttpServer`).
 */
export const queryApiRoutes: FastifyPluginAsync<QueryApiOptions> = async (app, opts) => {
  requireAccessControl(app, 'the query API');
  const log = logger('query-api');
  app.setErrorHandler(answerError(log));
  if (opts.telemetry) {
    const requests = opts.telemetry.meter.createCounter('vigil.query_api.requests', { description: 'Query API requests by route and status code' });
    // The Prometheus exporter does not append the unit, so the name carries it.
    const duration = opts.telemetry.meter.createHistogram('vigil.query_api.request_duration_seconds', {
      unit: 's',
      description: 'Query API request duration by route',
      advice: { explicitBucketBoundaries: SECONDS_BUCKETS },
    });
    app.addHook('onResponse', async (req, reply) => {
      const attrs = { route: req.routeOptions.url ?? 'unknown', status: reply.statusCode };
      requests.add(1, attrs);
      duration.record(reply.elapsedTime / 1000, { route: attrs.route });
    });
  }
  const routeOptions: RouteOptions = { storage: opts.storage, now: opts.now ?? Date.now, ...(opts.health ? { health: opts.health } : {}) };
  for (const routes of [hostsRoutes, seriesRoutes, summaryRoutes, alertsRoutes, eventsRoutes, overviewRoutes, clientsRoutes, entitiesRoutes]) {
    await app.register(routes, { ...routeOptions, prefix: API_PREFIX });
  }
  await app.register(sqlRoutes, { ...routeOptions, ...(opts.sqlLimits ? { sqlLimits: opts.sqlLimits } : {}), prefix: API_PREFIX });
  await app.register(openApiRoutes);
  // The web console's page and assets at / (public: they carry no data, the API asks the token).
  if (opts.console !== false) await app.register(consoleRoutes);
};

/** Adds the query API to the process's HTTP server (the one from `createHttpServer`), on the role's storage. */
export function registerQueryApi(app: FastifyInstance, ctx: RoleContext): void {
  void app.register(queryApiRoutes, { storage: requireStorage(ctx, 'query-api'), telemetry: ctx.telemetry, health: ctx.health });
}
