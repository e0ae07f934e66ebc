import { Type } from '@sinclair/typebox';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError, hostPortProblem, installAccessControl, logger } from '@vigil/platform';
import { definePlugin } from '../../plugin.js';
import { startGrpcIntake, type GrpcIntake } from './grpc.js';
import { DEFAULT_BODY_LIMIT, registerIntake } from './intake.js';

const log = logger('collector.otlp');

const schema = Type.Object(
  {
    listen: Type.String({
      default: '127.0.0.1:4318',
      pattern: '^$|^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):[0-9]{1,5}$',
      description:
        'host:port of this plugin\'s own HTTP listener (4318 is the OTLP/HTTP default, so SDKs ship to http://localhost:4318 unchanged); "" to use the collector\'s HTTP server instead.',
    }),
    grpc: Type.String({
      default: '',
      pattern: '^$|^(\\[[0-9A-Fa-f:.]+\\]|[^:\\s\\[\\]]+):[0-9]{1,5}$',
      description:
        'host:port of an OTLP/gRPC listener (logs and metrics Export; 127.0.0.1:4317 is where OTLP/gRPC exporters send by default); "" for none.',
    }),
    bodyLimit: Type.Integer({ minimum: 1024, default: DEFAULT_BODY_LIMIT, description: 'Largest request body (or gRPC message) in bytes, compressed and decompressed; larger ones get 413 (gRPC: RESOURCE_EXHAUSTED).' }),
    events: Type.Boolean({ default: true, description: 'Also serve the plain JSON events intake, POST /v1/events.' }),
  },
  { additionalProperties: false },
);

/** Splits `host:port` (IPv6 in brackets). */
export function parseListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(listen.slice(i + 1));
  if (i <= 0 || !Number.isInteger(port) || port > 65535) throw new Error(`"${listen}" is not host:port`);
  return { host, port };
}

/**
 * The OTLP receiver: OTLP/HTTP (and, when `grpc` is set, OTLP/gRPC) logs and metrics from any
 * OpenTelemetry SDK or Collector, and the plain JSON events intake, onto the collector's queue and spool (so applications never wait on Kafka).
 */
export const otlpPlugin = definePlugin({
  type: 'otlp',
  description: 'OTLP/HTTP receiver (POST /v1/logs, /v1/metrics; protobuf or JSON, gzip), OTLP/gRPC (logs and metrics Export, optional) and a plain JSON events intake (POST /v1/events).',
  schema,
  check(options, at) {
    const problems: string[] = [];
    const problem = options.listen === '' ? undefined : hostPortProblem(options.listen, true);
    if (problem) problems.push(`${at}.listen: ${problem}; or "" to use the collector's HTTP server`);
    const grpcProblem = options.grpc === '' ? undefined : hostPortProblem(options.grpc, true);
    if (grpcProblem) problems.push(`${at}.grpc: ${grpcProblem}; or "" for no OTLP/gRPC listener`);
    if (options.grpc !== '' && options.grpc === options.listen) problems.push(`${at}.grpc: "${options.grpc}" is also listen; give OTLP/gRPC its own port (4317 by convention)`);
    if (problems.length > 0) throw new ConfigError(problems);
  },
  create(options, ctx) {
    let own: FastifyInstance | undefined;
    let grpc: GrpcIntake | undefined;
    const sink = () => ({ otlp: ctx.otlp, logs: ctx.logs, pressure: ctx.pressure });
    const intake = { sink, bodyLimit: options.bodyLimit, events: options.events };
    const startGrpc = async () => {
      if (options.grpc === '') return;
      const { host, port } = parseListen(options.grpc);
      try {
        grpc = await startGrpcIntake(host, port, { sink, access: ctx.access, maxMessageBytes: options.bodyLimit });
      } catch (err) {
        throw new Error(`otlp plugin "${ctx.name}": cannot listen for OTLP/gRPC on ${options.grpc}: ${(err as Error).message} (choose another grpc: host:port)`);
      }
      log.info({ plugin: ctx.name, grpc: options.grpc }, 'OTLP/gRPC intake listening');
    };
    return {
      async start() {
        await startGrpc();
        if (options.listen === '') {
          if (!ctx.http) throw new Error(`otlp plugin "${ctx.name}": listen is "" but this collector has no HTTP server; set listen: host:port`);
          if (ctx.http.server.listening) {
            throw new Error(
              `otlp plugin "${ctx.name}": the collector's HTTP server already serves OTLP on /v1/logs, /v1/metrics and /v1/events; remove this plugin or give it its own listen: host:port`,
            );
          }
          registerIntake(ctx.http, intake);
          return;
        }
        const { host, port } = parseListen(options.listen);
        own = Fastify({ logger: false, bodyLimit: options.bodyLimit });
        // The same access hook as the process's server: the same tokens, the ingest scope.
        installAccessControl(own, ctx.access);
        registerIntake(own, intake);
        try {
          await own.listen({ host, port });
        } catch (err) {
          throw new Error(`otlp plugin "${ctx.name}": cannot listen on ${options.listen}: ${(err as Error).message} (choose another listen: host:port)`);
        }
        log.info({ plugin: ctx.name, listen: options.listen }, 'OTLP/HTTP and JSON events intake listening');
      },
      async stop() {
        await grpc?.stop();
        grpc = undefined;
        await own?.close();
        own = undefined;
      },
      /** Where the OTLP/gRPC listener is (tests bind port 0). */
      grpcPort: () => grpc?.port,
    };
  },
});
