import type { LogEntry, MetricPoint } from '@vigil/platform';
import { checkRule } from '../src/config.js';
import { compileRules, type CompiledRule } from '../src/rules.js';

/** Records as the decoders give them, for engine tests on a virtual clock. */

const resources = new Map<string, MetricPoint['resource']>();

/** One resource object per host (the decoder shares it between the points of a request). */
export function resource(host: string, extra: Record<string, string> = {}): MetricPoint['resource'] {
  const key = JSON.stringify([host, extra]);
  let r = resources.get(key);
  if (!r) {
    r = { attributes: { 'host.id': `id-${host}`, 'host.name': host, 'service.name': 'vigil-collector', ...extra }, schemaUrl: '', serviceName: extra['service.name'] ?? 'vigil-collector' };
    resources.set(key, r);
  }
  return r;
}

const scope = { name: 'test', version: '', attributes: {}, droppedAttributesCount: 0, schemaUrl: '' };

export function gauge(name: string, value: number, atMs: number, attributes: Record<string, string> = {}, host = 'web-1', unit = '1'): MetricPoint {
  return {
    resource: resource(host),
    scope,
    name,
    description: '',
    unit,
    attributes,
    startTimeUnixNano: '0',
    timeUnixNano: `${atMs}000000`,
    flags: 0,
    exemplars: [],
    kind: 'gauge',
    value,
  };
}

export function counter(name: string, value: number, atMs: number, attributes: Record<string, string> = {}, host = 'web-1', startMs = 0, delta = false): MetricPoint {
  return {
    ...gauge(name, value, atMs, attributes, host, '{count}'),
    startTimeUnixNano: startMs > 0 ? `${startMs}000000` : '0',
    kind: 'sum',
    temporality: delta ? 1 : 2,
    monotonic: true,
  } as MetricPoint;
}

export function event(atMs: number, over: Partial<LogEntry> & { host?: string; service?: string } = {}): LogEntry {
  const { host = 'web-1', service, ...rest } = over;
  return {
    resource: resource(host, service ? { 'service.name': service } : {}),
    scope,
    timeUnixNano: `${atMs}000000`,
    observedTimeUnixNano: `${atMs}000000`,
    severityNumber: 9,
    severityText: 'INFO',
    body: 'something happened',
    attributes: {},
    traceId: '',
    spanId: '',
    flags: 0,
    eventName: '',
    ...rest,
  };
}

/** Rules written as in YAML (durations as text), checked and compiled. */
export function rules(...raw: Record<string, unknown>[]): CompiledRule[] {
  return compileRules(raw.map((r, i) => checkRule(r, `test: rules[${i}]`)));
}
