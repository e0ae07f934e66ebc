import { JsonLogsSerializer, JsonMetricsSerializer, ProtobufLogsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import type { ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { OtlpEncoding } from './decode.js';

/**
 * Encoding goes through the OpenTelemetry JS SDK's own serializers (`@opentelemetry/otlp-transformer`),
 * so what Vigil puts on Kafka is byte for byte what an OTLP exporter would send.
 */
export function encodeMetrics(data: ResourceMetrics, encoding: OtlpEncoding): Buffer {
  const bytes = encoding === 'otlp_json' ? JsonMetricsSerializer.serializeRequest(data) : ProtobufMetricsSerializer.serializeRequest(data);
  if (!bytes) throw new Error('the OTLP metrics serializer returned nothing');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function encodeLogs(records: ReadableLogRecord[], encoding: OtlpEncoding): Buffer {
  const bytes = encoding === 'otlp_json' ? JsonLogsSerializer.serializeRequest(records) : ProtobufLogsSerializer.serializeRequest(records);
  if (!bytes) throw new Error('the OTLP logs serializer returned nothing');
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
