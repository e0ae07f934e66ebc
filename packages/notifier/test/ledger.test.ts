import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openStorage, queryRows, transitionKey, type AlertTransition, type Storage } from '@vigil/platform';
import type { Notification } from '../src/channels/channel.js';
import { DeliveryLedger, deliveryRow } from '../src/pipeline/ledger.js';

let dir: string;
let storage: Storage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-ledger-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
});

afterAll(async () => {
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function notification(status: AlertTransition['status'] = 'firing'): Notification {
  const alert: AlertTransition = {
    fingerprint: `fp-${process.pid}-${++seq}`,
    status,
    severity: 'critical',
    labels: { alertname: 'cpu_high' },
    annotations: {},
    startsAt: '2024-05-01T12:00:00.000Z',
    ...(status === 'resolved' ? { endsAt: '2024-05-01T12:30:00.000Z' } : {}),
    value: 0.9,
    rule: 'cpu_high',
    window: 60_000,
  };
  return { key: transitionKey(alert), alert, title: 't', text: 'x' };
}

const sent = { status: 'sent', attempts: 1, error: '' } as const;
const failed = { status: 'failed', attempts: 5, error: 'HTTP 503; gave up after 5 attempts' } as const;

describe('delivery ledger (embedded ClickHouse)', () => {
  it('a sent delivery is known to a new ledger instance (after a restart), for that channel only', async () => {
    const n = notification();
    await new DeliveryLedger(storage, ['console', 'webhook:ops']).record(deliveryRow(n, 'webhook:ops', sent, Date.now()));
    const fresh = new DeliveryLedger(storage, ['console', 'webhook:ops']);
    expect(fresh.isSent(n.key, 'webhook:ops')).toBe(false);
    await fresh.load([n.key]);
    expect(fresh.isSent(n.key, 'webhook:ops')).toBe(true);
    expect(fresh.isSent(n.key, 'console')).toBe(false);
  });

  it('writes the row with the transition, the outcome and the time', async () => {
    const n = notification('resolved');
    // Recent: the table's TTL (the retention) drops old rows at any merge.
    const t = Math.floor(Date.now() / 1000) * 1000 + 250;
    await new DeliveryLedger(storage, ['webhook:ops']).record(deliveryRow(n, 'webhook:ops', failed, t));
    const rows = await queryRows(storage, `SELECT * EXCEPT (Time), toString(toUnixTimestamp64Milli(Time)) AS ms FROM ${storage.table('vigil_deliveries')} WHERE DeliveryKey = {k:String}`, { k: n.key });
    expect(rows).toEqual([
      {
        DeliveryKey: n.key,
        Channel: 'webhook:ops',
        Fingerprint: n.alert.fingerprint,
        Transition: 'resolved',
        Severity: 'critical',
        Rule: 'cpu_high',
        Status: 'failed',
        Attempts: 5,
        Error: 'HTTP 503; gave up after 5 attempts',
        ms: String(t),
      },
    ]);
  });

  it('a failed delivery does not count as sent; a later success does', async () => {
    const n = notification();
    const first = new DeliveryLedger(storage, ['webhook:ops']);
    await first.record(deliveryRow(n, 'webhook:ops', failed, Date.now()));
    const second = new DeliveryLedger(storage, ['webhook:ops']);
    await second.load([n.key]);
    expect(second.isSent(n.key, 'webhook:ops')).toBe(false);
    await second.record(deliveryRow(n, 'webhook:ops', { status: 'sent', attempts: 2, error: '' }, Date.now() + 1));
    const third = new DeliveryLedger(storage, ['webhook:ops']);
    await third.load([n.key]);
    expect(third.isSent(n.key, 'webhook:ops')).toBe(true);
  });

  it('a row whose insert failed counts as sent at once and is written on the next load', async () => {
    const n = notification();
    let broken = true;
    // The real engine refusing the insert: the ledger's table name points at a table that does not exist.
    const flaky: Storage = { ...storage, table: (name) => (broken ? storage.table('no_such_table') : storage.table(name)) };
    const ledger = new DeliveryLedger(flaky, ['console']);
    await expect(ledger.record(deliveryRow(n, 'console', sent, Date.now()))).rejects.toThrow(/cannot record 1 deliveries in vigil\.no_such_table: .*check ClickHouse/);
    expect(ledger.isSent(n.key, 'console')).toBe(true);
    await expect(ledger.load([n.key])).rejects.toThrow(/cannot record 1 deliveries/);
    broken = false;
    await ledger.load([n.key]);
    const fresh = new DeliveryLedger(storage, ['console']);
    await fresh.load([n.key]);
    expect(fresh.isSent(n.key, 'console')).toBe(true);
  });

  it('loads many keys in one parameterised query and only asks for what it does not know', async () => {
    const ns = Array.from({ length: 50 }, () => notification());
    const writer = new DeliveryLedger(storage, ['console']);
    for (const n of ns.slice(0, 25)) await writer.record(deliveryRow(n, 'console', sent, Date.now()));
    const reader = new DeliveryLedger(storage, ['console']);
    await reader.load(ns.map((n) => n.key));
    expect(ns.map((n) => reader.isSent(n.key, 'console'))).toEqual(ns.map((_, i) => i < 25));
  });
});
