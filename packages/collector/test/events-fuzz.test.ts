import { resourceFromAttributes } from '@opentelemetry/resources';
import fc from 'fast-check';
import { readLogs } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { parseEvents } from '../src/plugins/otlp/events.js';
import { encodeLogRecords } from '../src/records.js';

/**
 * The plain JSON events intake, fuzzed: any JSON value is either refused with problems that name
 * fields, or turned into log records that encode and decode (both encodings) with nothing
 * rejected, so what `/v1/events` accepted is storable.
 */
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('\ud800', 'a\udfffb', 'ERROR', 'warn', 'app.startup', '2025-01-01T00:00:00Z', ''));
const eventish = fc.record(
  {
    level: fc.oneof(text, fc.constantFrom('error', 'info', 'fatal', 'WARNING'), fc.integer()),
    type: fc.oneof(text, fc.constantFrom('app.error', 'bad name!')),
    message: fc.oneof(text, fc.integer(), fc.constant(null)),
    error: fc.oneof(fc.record({ type: text, message: text, stack: text }, { requiredKeys: [] }), fc.jsonValue()),
    module: text,
    function: text,
    line: fc.oneof(fc.integer({ min: -5, max: 100_000 }), fc.double(), text),
    file: text,
    appVersion: text,
    timestamp: fc.oneof(fc.integer({ min: -1, max: 4_200_000_000_000 }), text, fc.constantFrom('2025-03-01T11:59:00Z', 'not a date', 1e20, 4_102_444_800_000, 4_102_444_800_001, '2100-01-01T00:00:00.001Z')),
    attributes: fc.oneof(fc.dictionary(text, fc.oneof(text, fc.double(), fc.boolean(), fc.array(fc.integer(), { maxLength: 3 }), fc.jsonValue())), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const body = fc.oneof({ weight: 6, arbitrary: eventish }, { weight: 2, arbitrary: fc.array(eventish, { maxLength: 4 }) }, { weight: 1, arbitrary: fc.jsonValue() });

describe('/v1/events parsing (property)', () => {
  const resource = resourceFromAttributes({ 'host.id': 'h1', 'service.name': 'fuzz' });
  it('refuses with named problems or yields records that decode with nothing rejected', () => {
    fc.assert(
      fc.property(body, (b) => {
        const parsed = parseEvents(b, 1_764_000_000_000);
        if (!parsed.ok) {
          expect(parsed.problems.length).toBeGreaterThan(0);
          for (const p of parsed.problems) expect(p.length).toBeGreaterThan(10);
          return;
        }
        for (const encoding of ['otlp_proto', 'otlp_json'] as const) {
          const read = readLogs(encodeLogRecords(resource, 'fuzz', parsed.records, encoding));
          expect(read.rejected).toEqual([]);
          expect(read.records).toHaveLength(parsed.records.length);
          for (const r of read.records) expect(JSON.stringify(r).isWellFormed()).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});
