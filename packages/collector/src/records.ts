import type { Attributes } from '@opentelemetry/api';
import { millisToHrTime } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { encodeLogs, VIGIL_VERSION, type OtlpEncoding } from '@vigil/platform';
import type { LogRecordInput } from './plugin.js';

/**
 * Plugin log records as the SDK's ReadableLogRecord, so they are encoded by the SDK's own OTLP
 * serializer (byte for byte what an OTLP exporter sends). `scope` is the plugin instance.
 */
export function encodeLogRecords(resource: Resource, scope: string, records: LogRecordInput[], encoding: OtlpEncoding, now = Date.now()): Buffer {
  const instrumentationScope = { name: `vigil.collector.${scope}`, version: VIGIL_VERSION };
  const readable: ReadableLogRecord[] = records.map((r) => {
    const at = millisToHrTime(r.timestamp ?? now);
    return {
      hrTime: at,
      hrTimeObserved: millisToHrTime(now),
      severityNumber: r.severityNumber as ReadableLogRecord['severityNumber'],
      severityText: r.severityText,
      body: r.body,
      resource,
      instrumentationScope,
      attributes: (r.attributes ?? {}) as Attributes,
      droppedAttributesCount: 0,
      eventName: r.eventName,
    };
  });
  return encodeLogs(readable, encoding);
}
