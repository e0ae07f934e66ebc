import Fastify, { type FastifyInstance } from 'fastify';
import { accessPolicy, installAccessControl, type AccessPolicy } from './access.js';
import type { HealthRegistry } from './health.js';
import type { Telemetry } from './telemetry/index.js';

const DependencySchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'degraded', 'down', 'starting'] }, detail: { type: 'string' }, partitions: { type: 'string' } },
  required: ['status'],
} as const;

export const HealthResponseSchema = {
  type: 'object',
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded', 'starting', 'unavailable'] },
    checks: { type: 'object', additionalProperties: DependencySchema },
  },
  required: ['status', 'checks'],
} as const;

export interface HttpServerOptions {
  /** The tokens and their scopes (`accessPolicy(config.http)`); default none: reads and ingest open, writes refused. */
  access?: AccessPolicy;
}

/**
 * The HTTP server of every process: `/health` (readiness: 503 until every dependency is up or degraded),
 * `/health/live` (liveness: 200 while the process runs) and `/metrics` (Prometheus text), the only
 * routes open without a token. The APIs (query, notifier, intake) add their routes to the same
 * server, each declaring its scope; the access hook checks every one of them.
 */
export function createHttpServer(health: HealthRegistry, telemetry: Telemetry, opts: HttpServerOptions = {}): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  installAccessControl(app, opts.access ?? accessPolicy({}));
  const open = { scope: 'public' } as const;
  app.get('/health', { config: open, schema: { response: { 200: HealthResponseSchema, 503: HealthResponseSchema } } }, async (_req, reply) => {
    const report = health.report();
    return reply.code(report.status === 'ok' || report.status === 'degraded' ? 200 : 503).send(report);
  });
  app.get('/health/live', { config: open, schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'alive' }));
  app.get('/metrics', { config: open }, (req, reply) => {
    reply.hijack();
    telemetry.handle(req.raw, reply.raw);
  });
  return app;
}
