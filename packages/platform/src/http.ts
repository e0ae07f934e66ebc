import Fastify, { type FastifyInstance } from 'fastify';
import type { HealthRegistry } from './health.js';
import type { Telemetry } from './telemetry/index.js';

const DependencySchema = {
  type: 'object',
  properties: { status: { type: 'string', enum: ['up', 'degraded', 'down', 'starting'] }, detail: { type: 'string' } },
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

/**
 * The HTTP server of every process: `/health` (readiness: 503 until every dependency is up or degraded),
 * `/health/live` (liveness: 200 while the process runs) and `/metrics` (Prometheus text).
 * The query API adds its routes to the same server.
 */
export function createHttpServer(health: HealthRegistry, telemetry: Telemetry): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
  app.get('/health', { schema: { response: { 200: HealthResponseSchema, 503: HealthResponseSchema } } }, async (_req, reply) => {
    const report = health.report();
    return reply.code(report.status === 'ok' || report.status === 'degraded' ? 200 : 503).send(report);
  });
  app.get('/health/live', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'alive' }));
  app.get('/metrics', (req, reply) => {
    reply.hijack();
    telemetry.handle(req.raw, reply.raw);
  });
  return app;
}
