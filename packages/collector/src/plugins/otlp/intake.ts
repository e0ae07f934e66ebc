import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { encodeExportResponse, readLogs, readMetrics, type LogEntry, type MetricPoint, type OtlpDecodeError, type Read, type Rejection } from '@vigil/platform';
import { detectEncoding, requireAccessControl } from '@vigil/platform';
import type { LogRecordInput, OtlpSignal, Pressure } from '../../plugin.js';
import { parseEvents } from './events.js';
import { jsonTooDeepAt, MAX_JSON_DEPTH } from './json-depth.js';

const gunzipAsync = promisify(gunzip);
const inflateAsync = promisify(inflate);

/** Where the intake hands what it received: the collector's shipper (queue, spool, bus). */
export interface IntakeSink {
  otlp(signal: OtlpSignal, payload: Buffer, key?: string, count?: number): Promise<void>;
  logs(records: LogRecordInput[]): Promise<void>;
  /** A reason to refuse new requests for now (429 with Retry-After). */
  pressure?(): Pressure | undefined;
}

export interface IntakeOptions {
  /** The sink, or undefined while the collector is not started (the intake answers 503). */
  sink: () => IntakeSink | undefined;
  /** Largest body accepted, compressed and decompressed. Default 8 MiB. */
  bodyLimit?: number;
  /** Serve the plain JSON events intake `POST /v1/events`. Default true. */
  events?: boolean;
  /**
   * Most bytes of request bodies being handled at once (a compressed body counts as what it may
   * become, up to `bodyLimit`); beyond it, 429. Bounds the intake's memory under any load. Default 64 MiB.
   */
  maxInFlightBytes?: number;
}

export const DEFAULT_MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024;
/** How much a compressed body is assumed to grow, for the in-flight budget. */
const COMPRESSION_FACTOR = 8;

export const DEFAULT_BODY_LIMIT = 8 * 1024 * 1024;

const PROTOBUF = ['application/x-protobuf', 'application/protobuf'];

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
  ) {
    super(message);
  }
}

/** The resource identity OTLP records are keyed by: host.id, else service.instance.id. */
export function sourceKey(attributes: Record<string, string> | undefined): string | undefined {
  return attributes?.['host.id'] || attributes?.['service.instance.id'] || undefined;
}

/**
 * OTLP/HTTP (`POST /v1/logs`, `POST /v1/metrics`; protobuf or JSON; gzip or deflate) and the
 * JSON events intake (`POST /v1/events`), registered on `app` in their own scope, each route of
 * scope `ingest` (checked by the server's access hook, so `app` must have one). OTLP payloads
 * are checked by decoding them and handed on as received, keyed by the first resource's
 * identity; the collector role puts them in `kafka.encoding` before they reach a topic. Must be called before `app` listens.
 */
export function registerIntake(app: FastifyInstance, opts: IntakeOptions): void {
  requireAccessControl(app, 'the OTLP and events intake');
  const limit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const ingest = { config: { scope: 'ingest' } } as const;
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser([...PROTOBUF, 'application/json'], { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: FastifyError, _req, reply) => {
      if (err instanceof HttpProblem) return reply.code(err.status).send({ error: err.error, message: err.message });
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: 'payload_too_large', message: `the body is larger than ${limit} bytes, the intake's limit: send smaller batches` });
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return reply.code(415).send({ error: 'unsupported_media_type', message: 'send Content-Type application/x-protobuf or application/json' });
      }
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      return reply.code(status).send({ error: status === 500 ? 'internal' : 'bad_request', message: err.message });
    });
    // Backpressure, before a body is read: the pipeline behind says it cannot keep up, or too many
    // bytes are being handled right now. OTLP clients retry a 429 after Retry-After.
    const budget = opts.maxInFlightBytes ?? DEFAULT_MAX_IN_FLIGHT_BYTES;
    let inFlight = 0;
    const charged = new WeakMap<FastifyRequest, number>();
    scope.addHook('onRequest', async (req, reply) => {
      const pressure = opts.sink()?.pressure?.();
      if (pressure) return tooMany(reply, pressure.retryAfterSeconds, pressure.reason);
      const length = Number(req.headers['content-length']);
      const compressed = (req.headers['content-encoding'] ?? 'identity') !== 'identity';
      const cost = Number.isFinite(length) && length >= 0 ? Math.min(limit, compressed ? length * COMPRESSION_FACTOR : length) : limit;
      if (inFlight > 0 && inFlight + cost > budget) {
        return tooMany(reply, 1, `the intake is handling ${inFlight} bytes of requests (its limit is ${budget}); retry shortly`);
      }
      inFlight += cost;
      charged.set(req, cost);
    });
    scope.addHook('onResponse', async (req) => {
      inFlight -= charged.get(req) ?? 0;
      charged.delete(req);
    });
    scope.addHook('onRequestAbort', async (req) => {
      inFlight -= charged.get(req) ?? 0;
      charged.delete(req);
    });

    const sinkOrFail = (): IntakeSink => {
      const sink = opts.sink();
      if (!sink) throw new HttpProblem(503, 'unavailable', 'the collector is starting; retry shortly');
      return sink;
    };
    const deliver = async (reply: FastifyReply, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        void reply.header('retry-after', '5');
        throw new HttpProblem(503, 'unavailable', `could not keep the records: ${(err as Error).message}`);
      }
    };

    const otlp = (signal: OtlpSignal) => async (req: FastifyRequest, reply: FastifyReply) => {
      const body = await requestBody(req, limit);
      const encoding = (req.headers['content-type'] ?? '').startsWith('application/json') ? 'otlp_json' : 'otlp_proto';
      let read: Read<MetricPoint | LogEntry>;
      try {
        read = signal === 'metrics' ? readMetrics(body) : readLogs(body);
      } catch (err) {
        throw new HttpProblem(400, 'bad_request', `${(err as OtlpDecodeError).message} (POST /v1/${signal} takes an OTLP Export${signal === 'metrics' ? 'Metrics' : 'Logs'}ServiceRequest)`);
      }
      const count = read.records.length;
      const rejected = read.rejected.reduce((n, r) => n + r.records, 0);
      const why = rejectionSummary(read.rejected);
      // Nothing storable: the client must not retry (400). Some storable: keep them, tell what was left out (partial success).
      if (count === 0 && read.rejected.length > 0) throw new HttpProblem(400, 'bad_request', why);
      const key = sourceKey(read.records[0]?.resource.attributes);
      const sink = sinkOrFail();
      if (count > 0) await deliver(reply, () => sink.otlp(signal, read.accepted(), key, count));
      const response = encodeExportResponse(signal, encoding, rejected, read.rejected.length > 0 ? why : '');
      return reply.code(200).type(encoding === 'otlp_json' ? 'application/json' : 'application/x-protobuf').send(response);
    };
    scope.post('/v1/metrics', ingest, otlp('metrics'));
    scope.post('/v1/logs', ingest, otlp('logs'));

    if (opts.events ?? true) {
      scope.post('/v1/events', ingest, async (req, reply) => {
        if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
          throw new HttpProblem(415, 'unsupported_media_type', 'POST /v1/events takes Content-Type application/json');
        }
        const body = await requestBody(req, limit);
        let parsed: unknown;
        try {
          parsed = JSON.parse(body.toString('utf8'));
        } catch (err) {
          throw new HttpProblem(400, 'bad_request', `the body is not JSON: ${(err as Error).message}`);
        }
        const events = parseEvents(parsed);
        if (!events.ok) return reply.code(400).send({ error: 'bad_request', message: events.problems.slice(0, 20).join('; '), problems: events.problems });
        const sink = sinkOrFail();
        await deliver(reply, () => sink.logs(events.records));
        return reply.code(202).send({ accepted: events.records.length });
      });
    }
  });
}

function tooMany(reply: FastifyReply, retryAfterSeconds: number, reason: string) {
  return reply.code(429).header('retry-after', String(Math.max(1, Math.round(retryAfterSeconds)))).send({ error: 'too_many_requests', message: `${reason}; retry after the Retry-After seconds` });
}

/** What was left out and why, for a 400 or a partial success: the first few problems by their path. */
export function rejectionSummary(rejected: Rejection[]): string {
  if (rejected.length === 0) return '';
  const records = rejected.reduce((n, r) => n + r.records, 0);
  const shown = rejected.slice(0, 5).map((r) => `${r.path}: ${r.reason}`);
  const more = rejected.length > shown.length ? `; and ${rejected.length - shown.length} more` : '';
  return `${records} record${records === 1 ? '' : 's'} left out: ${shown.join('; ')}${more}`;
}

/**
 * The body, decompressed per Content-Encoding, never larger than `limit`, and when it is JSON never
 * nested deeper than MAX_JSON_DEPTH (checked before anything parses it). JSON is what the
 * Content-Type says, or what the OTLP decoder will read as JSON whatever the Content-Type.
 */
async function requestBody(req: FastifyRequest, limit: number): Promise<Buffer> {
  const body = await decompressedBody(req, limit);
  if ((req.headers['content-type'] ?? '').startsWith('application/json') || detectEncoding(body) === 'otlp_json') {
    const at = jsonTooDeepAt(body);
    if (at >= 0) throw new HttpProblem(400, 'bad_request', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (at byte ${at}); send flatter records`);
  }
  return body;
}

async function decompressedBody(req: FastifyRequest, limit: number): Promise<Buffer> {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw new HttpProblem(400, 'bad_request', 'the body is empty');
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding === 'identity') return raw;
  if (encoding !== 'gzip' && encoding !== 'deflate') throw new HttpProblem(415, 'unsupported_media_type', `Content-Encoding "${encoding}" is not supported (use gzip, deflate or none)`);
  try {
    return await (encoding === 'gzip' ? gunzipAsync : inflateAsync)(raw, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new HttpProblem(413, 'payload_too_large', `the body decompresses to more than ${limit} bytes, the intake's limit: send smaller batches`);
    }
    throw new HttpProblem(400, 'bad_request', `the body is not valid ${encoding} data: ${(err as Error).message}`);
  }
}
