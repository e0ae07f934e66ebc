import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTelemetry, migrate, openStorage, transitionKey, type AlertTransition, type Storage } from '@vigil/platform';
import {
  DeliveryError,
  deliveryRow,
  Deliverer,
  DeliveryLedger,
  Inbox,
  notifierMetrics,
  notificationOf,
  RateLimiter,
  SilenceSet,
  SilenceStore,
  SnapshotStore,
  type AlertNotification,
  type NotificationChannel,
  type Receiver,
} from '../src/index.js';

/**
 * The notifier's memory on embedded ClickHouse (inbox, ledger, snapshots, silences) and the
 * delivery stages over it, with in-process channels: duplicates skipped, resolves not wanted,
 * rate limits, giving up and handing over to the fallback.
 */

let dir: string;
let storage: Storage;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-notifier-stores-'));
  storage = openStorage({ database: 'vigil', dataDir: dir });
  await migrate(storage, 30 * 86_400_000);
});

afterAll(async () => {
  await storage?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function alert(status: AlertTransition['status'] = 'firing', fp = `fp-${process.pid}-${++seq}`, startsAt = new Date().toISOString()): AlertTransition {
  return {
    fingerprint: fp,
    status,
    severity: 'critical',
    labels: { alertname: 'cpu_high', 'host.name': 'web-1' },
    annotations: {},
    startsAt,
    ...(status === 'resolved' ? { endsAt: new Date().toISOString() } : {}),
    value: 0.9,
    rule: 'cpu_high',
    window: 60_000,
  };
}

describe('inbox', () => {
  it('gives the latest transition per alert, by publish time, whatever the replays; resolved ones only within the window; per consumer group', async () => {
    const inbox = new Inbox(storage, 'g1');
    const t = Date.now();
    const a = alert('firing');
    const aResolved: AlertTransition = { ...a, status: 'resolved', endsAt: new Date(t).toISOString() };
    const b = alert('firing');
    const old = alert('firing');
    const oldResolved: AlertTransition = { ...old, status: 'resolved', endsAt: new Date(t).toISOString() };
    await inbox.record([
      { alert: a, publishedAt: t - 3_000 },
      { alert: aResolved, publishedAt: t - 2_000 },
      { alert: b, publishedAt: t - 1_000 },
      { alert: old, publishedAt: t - 90_000_000 },
      { alert: oldResolved, publishedAt: t - 89_000_000 },
    ]);
    // A replay of a's firing keeps its publish time: it does not revive the alert.
    await inbox.record([{ alert: a, publishedAt: t - 3_000 }]);
    await new Inbox(storage, 'g2').record([{ alert: alert('firing'), publishedAt: t }]);
    const latest = await inbox.latest(t - 86_400_000);
    expect(latest.map((e) => transitionKey(e.alert))).toEqual([transitionKey(aResolved), transitionKey(b)]);
    expect(latest[0]!.publishedAt).toBe(t - 2_000);
  });
});

describe('delivery ledger', () => {
  const n = (key: string, receiver = 'ops'): AlertNotification => notificationOf([alert()], { receiver, key });

  it('records rows given together in one go (group commit) and tells what each group notified since a time, sent or given up', async () => {
    const ledger = new DeliveryLedger(storage);
    const t = Date.now();
    const group = `grp-${process.pid}-${++seq}`;
    const [a, b] = [alert(), alert()];
    const first = notificationOf([a, b], { receiver: 'ops', key: `k-${++seq}` });
    const second = notificationOf([a], { receiver: 'ops', key: `k-${++seq}` });
    first.groupKey = group;
    second.groupKey = group;
    const old = { ...first, key: `k-${++seq}` };
    await ledger.record(deliveryRow(old, { name: 'ops/webhook[0]', kind: 'webhook' }, { status: 'sent', attempts: 1, error: '' }, t - 60_000));
    // Concurrent records: every one resolves once its row is written.
    await Promise.all([
      ledger.record(deliveryRow(first, { name: 'ops/webhook[0]', kind: 'webhook' }, { status: 'sent', attempts: 1, error: '' }, t)),
      ledger.record(deliveryRow({ ...first, alerts: [b] }, { name: 'ops/console[0]', kind: 'console' }, { status: 'sent', attempts: 1, error: '' }, t + 1)),
      ledger.record(deliveryRow(second, { name: 'ops/webhook[0]', kind: 'webhook' }, { status: 'failed', attempts: 3, error: 'HTTP 500' }, t + 5)),
    ]);
    const since = (await ledger.notifiedSince(t - 1_000)).filter((r) => r.groupKey === group);
    expect(since).toEqual([
      { groupKey: group, alerts: expect.arrayContaining([transitionKey(a), transitionKey(b)]), time: t },
      { groupKey: group, alerts: [transitionKey(a)], time: t + 5 },
    ]);
    expect(since[0]!.alerts).toHaveLength(2);
    expect((await ledger.notifiedSince(t - 120_000)).filter((r) => r.groupKey === group)).toHaveLength(3);
  });

  it('knows what was sent after a restart (preload), for that channel only; lists deliveries with filters', async () => {
    const ledger = new DeliveryLedger(storage);
    const sent = n(`k-${++seq}`);
    await ledger.record(
      deliveryRow(sent, { name: 'ops/webhook[0]', kind: 'webhook' }, { status: 'sent', attempts: 2, error: '', providerId: 'msg-1' }, Date.now()),
    );
    const failed = n(`k-${++seq}`, 'pager');
    await ledger.record(deliveryRow(failed, { name: 'pager/sms[0]', kind: 'sms' }, { status: 'failed', attempts: 5, error: 'HTTP 503' }, Date.now()));
    const fresh = new DeliveryLedger(storage);
    expect(fresh.isSent(sent.key, 'ops/webhook[0]')).toBe(false);
    expect(await fresh.preload(Date.now() - 60_000)).toBeGreaterThanOrEqual(1);
    expect(fresh.isSent(sent.key, 'ops/webhook[0]')).toBe(true);
    expect(fresh.isSent(sent.key, 'ops/console[0]')).toBe(false);
    expect(fresh.isSent(failed.key, 'pager/sms[0]')).toBe(false);
    const listed = await fresh.list({ since: Date.now() - 60_000, limit: 10, status: 'failed', receiver: 'pager' });
    expect(listed).toEqual([expect.objectContaining({ key: failed.key, channel: 'pager/sms[0]', kind: 'sms', receiver: 'pager', status: 'failed', attempts: 5, lastError: 'HTTP 503', alerts: 1 })]);
    const all = await fresh.list({ since: Date.now() - 60_000, limit: 10 });
    expect(all.find((d) => d.key === sent.key)).toMatchObject({ status: 'sent', providerId: 'msg-1', attempts: 2 });
  });
});

describe('snapshots and silences', () => {
  it('the latest snapshot of a consumer group comes back; silences survive in ClickHouse with their last change', async () => {
    const snaps = new SnapshotStore(storage, `g-${++seq}`);
    expect(await snaps.load()).toBeUndefined();
    const state = (v: number) => ({ dispatcher: { version: 1 as const, alerts: [], groups: [] }, rateLimiter: { version: 1 as const, sent: { x: [v] }, held: {} } });
    await snaps.save(state(1), Date.now() - 10);
    await snaps.save(state(2), Date.now());
    expect((await snaps.load())?.rateLimiter.sent).toEqual({ x: [2] });

    const set = new SilenceSet();
    const store = new SilenceStore(storage);
    const now = Date.now();
    const s = set.add({ matchers: ['host.name="web-1"'], startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), comment: 'maintenance' }, now);
    await store.save(s);
    set.expire(s.id, now + 5);
    await store.save(set.get(s.id, now + 5)!);
    const back = (await store.all()).find((x) => x.id === s.id)!;
    expect(back.endsAt).toBe(new Date(now + 5).toISOString());
    expect(new SilenceSet([back], now).isSilenced({ 'host.name': 'web-1' }, now + 10)).toBe(false);
  });
});

describe('delivery stages', () => {
  /** An in-process channel answering with the given errors in turn, then accepting. */
  function channel(name: string, errors: unknown[] = []): NotificationChannel & { got: AlertNotification[] } {
    let calls = 0;
    const got: AlertNotification[] = [];
    return {
      kind: 'webhook',
      name,
      got,
      render: () => ({}),
      async send(n) {
        const e = errors[calls++];
        if (e !== undefined) throw e;
        got.push(n);
        return { providerId: `${name}#${got.length}` };
      },
    };
  }

  function deliverer(receivers: Receiver[], limiter = new RateLimiter(), ledger = new DeliveryLedger(storage)) {
    const map = new Map(receivers.map((r) => [r.name, r]));
    const owners = new Map(receivers.flatMap((r) => r.channels.map((c) => [c.name, r] as const)));
    return new Deliverer({
      receivers: map,
      owners,
      ledger,
      rateLimiter: limiter,
      metrics: notifierMetrics(createTelemetry('stores-test').meter),
      retry: { maxAttempts: 1_000, baseDelayMs: 5, maxDelayMs: 20, budgetMs: 300 },
      signal: new AbortController().signal,
    });
  }

  it('sends once per channel, skips a duplicate, and leaves out resolves a receiver does not want', async () => {
    const a = channel(`a-${++seq}`);
    const quiet = channel(`q-${seq}`);
    const d = deliverer([
      { name: 'ops', channels: [a], sendResolved: true },
      { name: 'quiet', channels: [quiet], sendResolved: false },
    ]);
    const n = notificationOf([alert()], { receiver: 'ops', key: `n-${seq}` });
    expect(await d.submit(n)).toEqual([{ channel: a.name, kind: 'webhook', outcome: 'sent', attempts: 1, providerId: `${a.name}#1` }]);
    expect(await d.submit(n)).toEqual([{ channel: a.name, kind: 'webhook', outcome: 'skipped', reason: 'duplicate' }]);
    const resolved = notificationOf([alert('resolved')], { receiver: 'quiet', key: `r-${seq}` });
    expect(await d.submit(resolved)).toEqual([{ channel: quiet.name, kind: 'webhook', outcome: 'skipped', reason: 'resolved_not_wanted' }]);
    expect(a.got).toHaveLength(1);
    expect(quiet.got).toHaveLength(0);
  });

  it('says a notification was answered once every channel answered, before its ledger rows are in', async () => {
    const a = channel(`ans-a-${++seq}`);
    const b = channel(`ans-b-${seq}`, [new DeliveryError('HTTP 503', { permanent: false, status: 503 })]);
    const ledger = new DeliveryLedger(storage);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const record = ledger.record.bind(ledger);
    // The rows' insert stays unfinished until released (a busy ClickHouse).
    ledger.record = (row) => record(row).then(() => held);
    const d = deliverer([{ name: 'ops', channels: [a, b], sendResolved: true }], undefined, ledger);
    const n = notificationOf([alert()], { receiver: 'ops', key: `ans-${seq}` });
    let answered = 0;
    let submitted = false;
    const done = d.submit(n, () => answered++).then((r) => ((submitted = true), r));
    await vi.waitFor(() => expect(answered).toBe(1));
    // Both channels answered (b after a retry) and count as sent; the insert is still in flight.
    expect([a.got.length, b.got.length]).toEqual([1, 1]);
    expect(ledger.isSent(n.key, a.name) && ledger.isSent(n.key, b.name)).toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(submitted).toBe(false);
    release();
    expect((await done).map((r) => r.outcome)).toEqual(['sent', 'sent']);
    expect(answered).toBe(1);
  });

  it('holds back over the rate limit and tells the next message what was held', async () => {
    const a = channel(`rl-${++seq}`);
    const limiter = new RateLimiter([{ channel: a.name, max: 1, per: 200 }]);
    const d = deliverer([{ name: 'ops', channels: [a], sendResolved: true }], limiter);
    const mk = (i: number) => notificationOf([alert()], { receiver: 'ops', key: `rl-${seq}-${i}` });
    expect((await d.submit(mk(1)))[0]!.outcome).toBe('sent');
    expect(await d.submit(mk(2))).toEqual([{ channel: a.name, kind: 'webhook', outcome: 'skipped', reason: 'rate_limited' }]);
    await new Promise((r) => setTimeout(r, 220));
    expect((await d.submit(mk(3)))[0]!.outcome).toBe('sent');
    expect(a.got[1]!.heldBack).toMatchObject({ count: 1, firing: 1, resolved: 0 });
  });

  it('gives up after giveUpAfter (or at once on a permanent error) and hands the notification to the fallback receiver', async () => {
    const down = channel(`down-${++seq}`, Array.from({ length: 100 }, () => new DeliveryError('HTTP 503', { permanent: false, status: 503 })));
    const wrong = channel(`wrong-${seq}`, [new DeliveryError('HTTP 404', { permanent: true, status: 404 })]);
    const backup = channel(`backup-${seq}`);
    const d = deliverer([
      { name: 'primary', channels: [down, wrong], sendResolved: true, fallback: 'backup' },
      { name: 'backup', channels: [backup], sendResolved: true, fallback: 'primary' },
    ]);
    const n = notificationOf([alert()], { receiver: 'primary', key: `fb-${seq}` });
    const results = await d.submit(n);
    expect(results).toEqual([
      expect.objectContaining({ channel: down.name, outcome: 'failed', fallback: 'backup', error: expect.stringMatching(/HTTP 503; gave up after \d+ attempts: out of time/) }),
      expect.objectContaining({ channel: wrong.name, outcome: 'failed', attempts: 1, fallback: 'backup', error: 'HTTP 404; permanent error' }),
    ]);
    await d.drain();
    // Both failures hand the same notification over; the fallback's ledger sends it once, and the cycle back to primary is cut.
    expect(backup.got).toHaveLength(1);
    expect(backup.got[0]).toMatchObject({ receiver: 'backup', key: `fb-${seq}>backup` });
  });
});
