import * as grpc from '@grpc/grpc-js';
import { decideAccess, encodeExportResponse, logger, readLogs, readMetrics, type AccessPolicy, type LogEntry, type MetricPoint, type Read } from '@vigil/platform';
import type { OtlpSignal } from '../../plugin.js';
import { rejectionSummary, sourceKey, type IntakeSink } from './intake.js';

/**
 * OTLP/gRPC: the `Export` calls of the collector's logs and metrics services, the default
 * transport of many OpenTelemetry SDKs and of the Collector's otlp exporter (port 4317). The
 * messages stay bytes end to end (no generated stubs): decoded and checked by the same decoder
 * as OTLP/HTTP, forwarded as the same export request (re-encoded only when records were left
 * out), answered with the same response message. Status codes follow the OTLP specification:
 * INVALID_ARGUMENT (not retried) for a request with nothing storable, UNAVAILABLE (retried with
 * backoff) while the pipeline behind cannot keep up, UNAUTHENTICATED / PERMISSION_DENIED by the
 * same tokens and scopes as HTTP (`authorization: Bearer <token>` metadata, scope ingest).
 */

const log = logger('collector.otlp.grpc');

export const OTLP_GRPC_PATHS: Record<OtlpSignal, string> = {
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
};

const bytes = (b: Buffer) => b;
const unary = (path: string): grpc.MethodDefinition<Buffer, Buffer> => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: bytes,
  requestDeserialize: bytes,
  responseSerialize: bytes,
  responseDeserialize: bytes,
});

export interface GrpcIntakeOptions {
  sink: () => IntakeSink | undefined;
  access: AccessPolicy;
  /** Largest message accepted, decompressed. */
  maxMessageBytes: number;
}

export interface GrpcIntake {
  port: number;
  stop(): Promise<void>;
}

class Refused extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** What one Export call does; pure of gRPC so that it reads like the HTTP handler. */
async function exportCall(signal: OtlpSignal, body: Buffer, authorization: string | undefined, opts: GrpcIntakeOptions): Promise<Buffer> {
  const verdict = decideAccess(opts.access, { method: 'POST', url: OTLP_GRPC_PATHS[signal], scope: 'ingest', found: true }, authorization);
  if (!verdict.allow) throw new Refused(verdict.status === 401 ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED, verdict.message);
  const sink = opts.sink();
  if (!sink) throw new Refused(grpc.status.UNAVAILABLE, 'the collector is starting; retry shortly');
  const pressure = sink.pressure?.();
  if (pressure) throw new Refused(grpc.status.UNAVAILABLE, `${pressure.reason}; retry with backoff`);
  let read: Read<MetricPoint | LogEntry>;
  try {
    read = signal === 'metrics' ? readMetrics(body) : readLogs(body);
  } catch (err) {
    throw new Refused(grpc.status.INVALID_ARGUMENT, `${(err as Error).message} (${OTLP_GRPC_PATHS[signal]} takes an OTLP Export${signal === 'metrics' ? 'Metrics' : 'Logs'}ServiceRequest)`);
  }
  const why = rejectionSummary(read.rejected);
  if (read.records.length === 0 && read.rejected.length > 0) throw new Refused(grpc.status.INVALID_ARGUMENT, why);
  if (read.records.length > 0) {
    try {
      await sink.otlp(signal, read.accepted(), sourceKey(read.records[0]!.resource.attributes), read.records.length);
    } catch (err) {
      throw new Refused(grpc.status.UNAVAILABLE, `could not keep the records: ${(err as Error).message}`);
    }
  }
  return encodeExportResponse(signal, 'otlp_proto', read.rejected.reduce((n, r) => n + r.records, 0), why);
}

/** Starts an OTLP/gRPC server on `host:port` (port 0: any free one). */
export async function startGrpcIntake(host: string, port: number, opts: GrpcIntakeOptions): Promise<GrpcIntake> {
  const server = new grpc.Server({ 'grpc.max_receive_message_length': opts.maxMessageBytes });
  const handler =
    (signal: OtlpSignal): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) => {
      const auth = call.metadata.get('authorization')[0];
      exportCall(signal, call.request, typeof auth === 'string' ? auth : auth?.toString(), opts).then(
        (response) => callback(null, response),
        (err: Error) => {
          const code = err instanceof Refused ? err.code : grpc.status.INTERNAL;
          if (code === grpc.status.INTERNAL) log.error({ signal, err: err.message }, 'OTLP/gRPC export failed');
          callback({ code, details: err.message });
        },
      );
    };
  for (const signal of ['metrics', 'logs'] as const) server.addService({ Export: unary(OTLP_GRPC_PATHS[signal]) }, { Export: handler(signal) });
  const bound = await new Promise<number>((resolve, reject) => {
    const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port: bound,
    stop: () =>
      new Promise<void>((resolve) => {
        // In-flight calls get a moment to finish; then the rest is cut.
        const force = setTimeout(() => server.forceShutdown(), 5_000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
