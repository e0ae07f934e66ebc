import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { planOf, readProto, trimPlan, type MessagePlan } from './wire.js';

/**
 * Decoding OTLP export requests as they travel on `otlp_logs` and `otlp_metrics`, in either of
 * the OpenTelemetry Collector Kafka exporter's encodings: `otlp_proto` (protobuf) and
 * `otlp_json`. The encoding is recognised from the payload itself, so a topic may carry both.
 */

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => fileURLToPath(new URL(`./proto/${target.split('/').pop()}`, import.meta.url));
root.loadSync(['metrics.proto', 'logs.proto'], { keepCase: false });
root.resolveAll();
const MetricsRequest = root.lookupType('opentelemetry.proto.metrics.v1.ExportMetricsServiceRequest');
const LogsRequest = root.lookupType('opentelemetry.proto.logs.v1.ExportLogsServiceRequest');
const MetricsResponse = root.lookupType('opentelemetry.proto.metrics.v1.ExportMetricsServiceResponse');
const LogsResponse = root.lookupType('opentelemetry.proto.logs.v1.ExportLogsServiceResponse');

/** The reading plan of a logs request (the direct reader walks it). */
export const LOGS_REQUEST_PLAN = planOf(LogsRequest);
/** The reading plan of a metrics request (the direct reader walks it). */
export const METRICS_REQUEST_PLAN = planOf(MetricsRequest);

/** The request types, for the wire reader's tests. */
export const OTLP_TYPES = { metricsRequest: MetricsRequest, logsRequest: LogsRequest } as const;

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, bytes: String, enums: Number, defaults: false };

export type OtlpEncoding = 'otlp_proto' | 'otlp_json';

/** Protobuf export requests start with field 1 (0x0a); JSON ones with `{`. */
export function detectEncoding(payload: Buffer): OtlpEncoding {
  for (const byte of payload) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) {
      if (byte === 0x0a) return 'otlp_proto';
      continue;
    }
    return byte === 0x7b ? 'otlp_json' : 'otlp_proto';
  }
  return 'otlp_proto';
}

/** The decoded shape, lowerCamelCase as in OTLP/JSON; int64 as string or number. */
/* eslint-disable @typescript-eslint/no-explicit-any */
export type RawRequest = { [k: string]: any };

export interface DecodedRequest {
  body: RawRequest;
  /** How trace and span ids are written in `body`. */
  ids: 'base64' | 'hex';
  encoding: OtlpEncoding;
  /** The request's protobuf type, to encode `body` again. */
  type: protobuf.Type;
}

export class OtlpDecodeError extends Error {
  constructor(what: string, cause: unknown) {
    super(`cannot decode ${what}: ${(cause as Error)?.message ?? String(cause)}`);
    this.name = 'OtlpDecodeError';
  }
}

function decode(type: protobuf.Type, what: string, payload: Buffer, plan: MessagePlan = planOf(type)): DecodedRequest {
  if (payload.length === 0) throw new OtlpDecodeError(what, new Error('empty payload'));
  try {
    if (detectEncoding(payload) === 'otlp_json') {
      const body = JSON.parse(payload.toString('utf8')) as unknown;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not a JSON object');
      return { body: body as RawRequest, ids: 'hex', encoding: 'otlp_json', type };
    }
    // What `type.toObject(type.decode(payload), TO_OBJECT)` gives, read straight from the wire (otlp/wire.ts).
    return { body: readProto(plan, payload), ids: 'base64', encoding: 'otlp_proto', type };
  } catch (err) {
    throw new OtlpDecodeError(what, err);
  }
}

export const decodeMetricsRequest = (payload: Buffer) => decode(MetricsRequest, 'OTLP metrics request', payload);
export const decodeLogsRequest = (payload: Buffer) => decode(LogsRequest, 'OTLP logs request', payload);

/**
 * A logs request's resources, scopes and each record's times, severity and flags, its body,
 * attributes and ids left unread (protobuf; JSON is parsed whole): what tells which source sent
 * how many records when (the rules' source tracking without event rules). Not to be encoded again.
 */
const LOG_HEADERS = trimPlan(planOf(LogsRequest), {
  resourceLogs: { resource: true, schemaUrl: true, scopeLogs: { scope: true, schemaUrl: true, logRecords: { timeUnixNano: true, observedTimeUnixNano: true, severityNumber: true, severityText: true, flags: true } } },
});
export const decodeLogHeaders = (payload: Buffer) => decode(LogsRequest, 'OTLP logs request', payload, LOG_HEADERS);

/** A decoded request (changed or not) in its own encoding again. */
export function encodeRawRequest(decoded: DecodedRequest): Buffer {
  if (decoded.encoding === 'otlp_json') return Buffer.from(JSON.stringify(decoded.body));
  const bytes = decoded.type.encode(decoded.type.fromObject(decoded.body)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Rewrites every traceId and spanId (log records, exemplars) from one spelling to the other. */
function convertIds(node: unknown, from: 'hex' | 'base64'): void {
  if (Array.isArray(node)) {
    for (const n of node) convertIds(n, from);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const obj = node as RawRequest;
  for (const [k, v] of Object.entries(obj)) {
    if ((k === 'traceId' || k === 'spanId') && typeof v === 'string') obj[k] = Buffer.from(v, from).toString(from === 'hex' ? 'base64' : 'hex');
    else if (typeof v === 'object') convertIds(v, from);
  }
}

/**
 * `payload` (an export request in either encoding) in the encoding `to`: unchanged when it is
 * already in it. Whoever reads a Vigil topic outside Vigil (the OpenTelemetry Collector's Kafka
 * receiver, Vector, a Kafka Connect sink) decodes every message of a topic with one configured
 * encoding, so what Vigil produces must all be in `kafka.encoding`, whatever a client sent.
 * Trace and span ids are hex in OTLP/JSON and bytes in protobuf.
 */
export function transcodeRequest(signal: 'metrics' | 'logs', payload: Buffer, to: OtlpEncoding): Buffer {
  if (detectEncoding(payload) === to) return payload;
  const decoded = signal === 'metrics' ? decodeMetricsRequest(payload) : decodeLogsRequest(payload);
  if (to === 'otlp_json') {
    convertIds(decoded.body, 'base64');
    return Buffer.from(JSON.stringify(decoded.body));
  }
  convertIds(decoded.body, 'hex');
  return encodeRawRequest({ ...decoded, encoding: 'otlp_proto' });
}

/**
 * Encodes an ExportMetricsServiceRequest given as a plain object (lowerCamelCase fields as in
 * OTLP/JSON; int64 as decimal strings) to `otlp_proto` bytes: for requests built outside the
 * OpenTelemetry SDK, such as scraped Prometheus metrics.
 */
export function encodeMetricsRequest(body: RawRequest): Buffer {
  const bytes = MetricsRequest.encode(MetricsRequest.fromObject(body)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * An OTLP/HTTP export response in the request's encoding: empty on full success; with
 * `partial_success` (how many data points or log records were rejected, and why) otherwise.
 */
export function encodeExportResponse(signal: 'metrics' | 'logs', encoding: OtlpEncoding, rejected = 0, message = ''): Buffer {
  const counted = signal === 'metrics' ? 'rejectedDataPoints' : 'rejectedLogRecords';
  const body = rejected > 0 || message ? { partialSuccess: { [counted]: String(rejected), errorMessage: message } } : {};
  if (encoding === 'otlp_json') return Buffer.from(JSON.stringify(body));
  const type = signal === 'metrics' ? MetricsResponse : LogsResponse;
  const bytes = type.encode(type.fromObject(body)).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
