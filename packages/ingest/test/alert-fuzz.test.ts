import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeAlert, migrate, openStorage, queryRows, type Storage } from '@vigil/platform';
import { alertRow, insertRows } from '../src/rows.js';

/**
 * `vigil.alerts` messages, fuzzed: anything is either refused as "not an alert transition" (it
 * goes to the dead-letter topic) or decoded into a row the real engine stores.
 */
const text = fc.oneof(fc.string({ maxLength: 16 }), fc.constantFrom('\ud800', 'x\udfff', ''));
const time = fc.oneof(
  { weight: 6, arbitrary: fc.date({ min: new Date(0), max: new Date('2099-12-31T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()) },
  { weight: 1, arbitrary: fc.constantFrom('2100-01-01T00:00:00.001Z', '1969-12-31T23:59:59Z', 'yesterday', '+275760-09-13T00:00:00.000Z', '2025-02-30T00:00:00Z') },
  { weight: 1, arbitrary: fc.integer() },
);
const transition = fc.record(
  {
    fingerprint: fc.oneof({ weight: 1, arbitrary: text }, { weight: 1, arbitrary: fc.integer() }, { weight: 6, arbitrary: fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }) }),
    status: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('firing', 'resolved') }, { weight: 1, arbitrary: text }),
    severity: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('info', 'warning', 'critical') }, { weight: 1, arbitrary: text }),
    labels: fc.oneof({ weight: 6, arbitrary: fc.dictionary(text, text) }, { weight: 1, arbitrary: fc.dictionary(text, fc.jsonValue()) }, { weight: 1, arbitrary: fc.jsonValue() }),
    annotations: fc.oneof(fc.dictionary(text, text), fc.jsonValue()),
    startsAt: time,
    endsAt: time,
    value: fc.oneof(fc.double(), fc.integer(), text, fc.constant(null)),
    rule: fc.oneof({ weight: 6, arbitrary: text }, { weight: 1, arbitrary: fc.integer() }),
    window: fc.oneof(fc.integer({ min: -10, max: 10 ** 9 }), fc.double(), text),
  },
  { requiredKeys: ['fingerprint', 'status', 'severity', 'labels', 'startsAt', 'rule'] },
);

describe('alert transitions × the real engine (property)', () => {
  let dir: string;
  let storage: Storage;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-alert-fuzz-'));
    storage = openStorage({ database: 'vigil', dataDir: dir });
    await migrate(storage, 30 * 86_400_000);
  });
  afterAll(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses what is not a transition and stores what is', async () => {
    let stored = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 5, arbitrary: transition }, { weight: 1, arbitrary: fc.jsonValue() }), fc.boolean(), async (t, garbage) => {
        const bytes = garbage ? Buffer.from([0xff, ...Buffer.from(JSON.stringify(t) ?? '')]) : Buffer.from(JSON.stringify(t) ?? 'null');
        let decoded;
        try {
          decoded = decodeAlert(bytes);
        } catch (err) {
          expect((err as Error).message).toMatch(/^not an alert transition/);
          refused++;
          return;
        }
        await insertRows(storage, 'vigil_alerts', [alertRow(decoded, Date.now())]);
        stored++;
      }),
      { numRuns: 300 },
    );
    const rows = Number((await queryRows<{ n: string }>(storage, `SELECT count() AS n FROM ${storage.table('vigil_alerts')}`))[0]!.n);
    expect(rows).toBeGreaterThan(0);
    expect(stored).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });
});
