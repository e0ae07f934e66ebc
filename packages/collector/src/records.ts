import type { Attributes } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { encodeLogs, VIGIL_VERSION, type OtlpEncoding } from '@vigil/platform';
import type { LogRecordInput } from './plugin.js';
import { LogsEncoder } from './records/logs-encoder.js';

export { LogsEncoder, type ResourceInput } from './records/logs-encoder.js';

/** One encoder per resource (the collector has one), holding its resource and scope bytes. */
const encoders = new WeakMap<Resource, LogsEncoder>();

/**
 * Plugin log records as one OTLP ExportLogsServiceRequest; `scope` is the plugin instance.
 * `otlp_proto` goes through the collector's own encoder (byte for byte the SDK's output, several
 * times faster); `otlp_json` through the SDK's serializer.
 */
export function encodeLogRecords(resource: Resource, scope: string, records: LogRecordInput[], encoding: OtlpEncoding, now = Date.now()): Buffer {
  if (encoding === 'otlp_proto') {
    let encoder = encoders.get(resource);
    if (!encoder) {
      encoder = new LogsEncoder({ attributes: resource.attributes, schemaUrl: resource.schemaUrl }, VIGIL_VERSION);
      encoders.set(resource, encoder);
    }
    return encoder.encode(scope, records, now);
  }
  return encodeLogs(sdkLogRecords(resource, scope, records, now), encoding);
}

/** The records as the SDK's ReadableLogRecords, for its serializers. */
export function sdkLogRecords(resource: Resource, scope: string, records: LogRecordInput[], now = Date.now()): ReadableLogRecord[] {
  const instrumentationScope = { name: `vigil.collector.${scope}`, version: VIGIL_VERSION };
  return records.map((r) => ({
    hrTime: millisToHrTime(r.timestamp ?? now),
    hrTimeObserved: millisToHrTime(now),
    severityNumber: r.severityNumber as ReadableLogRecord['severityNumber'],
    severityText: r.severityText,
    body: r.body,
    resource,
    instrumentationScope,
    attributes: (r.attributes ?? {}) as Attributes,
    droppedAttributesCount: 0,
    eventName: r.eventName,
  }));
}
