import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { logEntries, metricPoints, type BusProducer, type OtlpDecodeError } from '@vigil/platform';

/**
 * A thin OTLP/HTTP intake (`POST /v1/metrics`, `POST /v1/logs`, protobuf or JSON): any
 * OpenTelemetry SDK can ship to it unchanged. Payloads are checked by decoding them and then
 * forwarded as they are, keyed by the first resource's identity. Needs the API token when one
 * is configured.
 */
export interface OtlpIntakeOptions {
  producer: () => Promise<BusProducer>;
  topics: { metrics: string; logs: string };
  token?: string;
  bodyLimit?: number;
}

export function otlpIntake(app: FastifyInstance, opts: OtlpIntakeOptions): void {
  const bodyLimit = opts.bodyLimit ?? 8 * 1024 * 1024;
  app.register(async (scope) => {
    scope.addContentTypeParser(['application/x-protobuf', 'application/json'], { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
    scope.addHook('onRequest', async (req, reply) => {
      if (!opts.token) return;
      const auth = req.headers.authorization ?? '';
      if (auth !== `Bearer ${opts.token}`) return reply.code(401).send({ error: 'unauthorized', message: 'send the API token as "Authorization: Bearer <token>"' });
    });
    const handler = (signal: 'metrics' | 'logs') => async (req: FastifyRequest, reply: FastifyReply) => {
      const body = req.body as Buffer | undefined;
      if (!Buffer.isBuffer(body) || body.length === 0) {
        return reply.code(400).send({ error: 'bad_request', message: 'the body must be an OTLP export request (application/x-protobuf or application/json)' });
      }
      let key: string | null;
      try {
        const resources = signal === 'metrics' ? metricPoints(body).map((p) => p.resource) : logEntries(body).map((e) => e.resource);
        const first = resources[0]?.attributes ?? {};
        key = first['host.id'] ?? first['service.instance.id'] ?? null;
      } catch (err) {
        return reply.code(400).send({ error: 'bad_request', message: (err as OtlpDecodeError).message });
      }
      const producer = await opts.producer();
      await producer.send(signal === 'metrics' ? opts.topics.metrics : opts.topics.logs, [{ key, value: body }]);
      return reply.code(200).send({});
    };
    scope.post('/v1/metrics', { schema: { response: { 200: { type: 'object' } } } }, handler('metrics'));
    scope.post('/v1/logs', { schema: { response: { 200: { type: 'object' } } } }, handler('logs'));
  });
}
