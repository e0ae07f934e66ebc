import { checkSection, encodeAlert, fingerprint, transitionKey, type AlertTransition, type Batch } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { RouteConfig } from '../routing/config.js';
import { Dispatcher } from '../routing/dispatcher.js';
import { compileRoutes } from '../routing/routes.js';
import type { AlertNotification } from '../model.js';
import { NotificationPipeline, type PipelineDeps } from './pipeline.js';
import { RateLimiter } from './ratelimit.js';
import { AlertPartitions } from './partitions.js';
import { toNotification } from '../routing/notification.js';

/**
 * Sends do not wait for the inbox insert, so a crash can leave a sent notification whose
 * transitions are in the ledger's row and in Kafka (uncommitted) but not in the inbox. The restart
 * must still know it paged them (and owe their resolves) once Kafka delivers them again, without
 * letting an old notification undo a newer transition.
 */

/** Ten minutes ago: the ledger's rows are within the dispatcher's window. */
const T0 = Date.now() - 600_000;
const iso = (ms: number) => new Date(ms).toISOString();
const labels = { alertname: 'cpu', host: 'a' };
const fp = fingerprint(labels);
const firing = (startsAt: number): AlertTransition => ({ fingerprint: fp, status: 'firing', severity: 'warning', labels, annotations: {}, startsAt: iso(startsAt), value: 1, rule: 'cpu', window: 60_000 });
const resolved = (a: AlertTransition): AlertTransition => ({ ...a, status: 'resolved', endsAt: iso(Date.parse(a.startsAt) + 60_000) });

function batch(alerts: AlertTransition[]): Batch {
  return { topic: 'alerts', partition: 0, records: alerts.map((a, i) => ({ topic: 'alerts', partition: 0, offset: String(i), timestamp: 0, key: a.fingerprint, value: encodeAlert(a) })) };
}

const noop = () => undefined;
const newDispatcher = () =>
  new Dispatcher({ routes: compileRoutes(checkSection(RouteConfig, { receiver: 'team', groupBy: ['alertname', 'host'], groupWait: '0s', groupInterval: '1s' }, 'route')), inhibitRules: [] });

/** A restarted pipeline: no snapshot, an empty inbox, the ledger's rows; what it hands to the deliverer. */
async function restarted(ledgerRows: { groupKey: string; alerts: string[]; time: number }[], extra: Partial<PipelineDeps> = {}) {
  const sent: AlertNotification[] = [];
  const dispatcher = newDispatcher();
  const deps = {
    dispatcher,
    rateLimiter: new RateLimiter(),
    deliverer: { submit: async (n: AlertNotification) => void sent.push(n) },
    inbox: { record: async () => undefined, latest: async () => [] },
    snapshots: { load: async () => undefined, save: async () => undefined },
    ledger: { notifiedSince: async () => ledgerRows },
    deadLetters: async () => undefined,
    metrics: { stage: noop, received: noop, flushed: noop, deadLettered: noop },
    ...extra,
  } as unknown as PipelineDeps;
  const pipeline = new NotificationPipeline(deps);
  await pipeline.restore();
  pipeline.start();
  return { pipeline, sent };
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 50));
}

describe('NotificationPipeline: the ledger told at restart, the transitions only in Kafka', () => {
  it('a page whose transition comes again from Kafka owes its resolve', async () => {
    const page = firing(T0);
    // What the first process flushed and recorded before it died (its inbox insert never landed).
    const first = newDispatcher();
    first.receive(page, T0);
    const [flushed] = first.flush(T0);
    const { pipeline, sent } = await restarted([{ groupKey: flushed!.groupKey, alerts: [transitionKey(page)], time: T0 }]);
    // Kafka delivers the page's transition again, and its resolve published meanwhile.
    await pipeline.intake(batch([page, resolved(page)]));
    await settle();
    await pipeline.stop();
    expect(sent.map((n) => [n.status, n.alerts.map((a) => a.status)])).toEqual([['resolved', ['resolved']]]);
  });

  it('an old page and its resolve told late do not swallow a new episode received after them', async () => {
    const old = firing(T0);
    const first = newDispatcher();
    first.receive(old, T0);
    const [paged] = first.flush(T0);
    first.receive(resolved(old), T0 + 60_000);
    const [resolvedOut] = first.flush(T0 + 61_000);
    const rows = [
      { groupKey: paged!.groupKey, alerts: [transitionKey(old)], time: T0 },
      { groupKey: resolvedOut!.groupKey, alerts: [transitionKey(resolved(old))], time: T0 + 61_000 },
    ];
    const { pipeline, sent } = await restarted(rows);
    // A new consumer group reads the topic from its start: both old transitions, then a new episode.
    const next = firing(T0 + 300_000);
    await pipeline.intake(batch([old, resolved(old), next]));
    await settle();
    await pipeline.stop();
    expect(sent.map((n) => [n.status, n.alerts.map((a) => a.startsAt)])).toEqual([['firing', [next.startsAt]]]);
  });

  it('a page waits for the changelog write of its transition, and no longer than changelogWaitMs', async () => {
    const waiting: (() => void)[] = [];
    const answer = () => waiting.splice(0).forEach((r) => r());
    const partitions = {
      note: noop,
      flushed: () => 1,
      delivered: noop,
      known: () => ({}),
      seed: noop,
      write: () => new Promise<void>((r) => waiting.push(r)),
    };
    const { pipeline, sent } = await restarted([], { partitions: partitions as never, changelogWaitMs: 300 });
    await pipeline.intake(batch([firing(T0)]));
    await settle();
    expect(sent).toHaveLength(0);
    answer();
    await settle();
    expect(sent).toHaveLength(1);
    // A changelog that never answers holds the next page only changelogWaitMs.
    const other: AlertTransition = { ...firing(T0), labels: { alertname: 'cpu', host: 'b' }, fingerprint: fingerprint({ alertname: 'cpu', host: 'b' }) };
    await pipeline.intake(batch([other]));
    await settle();
    expect(sent).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 350));
    expect(sent).toHaveLength(2);
    await pipeline.stop();
  });
});

describe('NotificationPipeline: the outbox of the last run, with alert partitions', () => {
  it("sends at the first assignment what is still this instance's and unsent, as the changelog says", async () => {
    const onHost = (host: string): AlertTransition => ({ ...firing(T0), labels: { alertname: 'cpu', host }, fingerprint: fingerprint({ alertname: 'cpu', host }) });
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(onHost) as [AlertTransition, AlertTransition, AlertTransition, AlertTransition];
    // The last run flushed a page for each and died with all four in flight.
    const first = newDispatcher();
    for (const x of [a, b, c, d]) first.receive(x, T0);
    const owedEntry = first.entry(d.fingerprint)!; // written at receive: d is owed
    const outbox = first.flush(T0).map((g) => toNotification(g, T0));
    const notifiedEntry = first.entry(c.fingerprint)!; // another owner delivered c's page meanwhile and wrote so
    expect(notifiedEntry.groups[0]).toMatchObject({ notified: true, lastFiring: [transitionKey(c)] });
    const snapshot = { dispatcher: first.state(), rateLimiter: new RateLimiter().state(), outbox, savedAt: T0, partitions: { [a.fingerprint]: 0, [b.fingerprint]: 1, [c.fingerprint]: 2, [d.fingerprint]: 2 } };
    const dispatcher = newDispatcher();
    const changelog = new Map([[2, new Map([[c.fingerprint, notifiedEntry], [d.fingerprint, owedEntry]])]]);
    const store = { put: async () => undefined, restore: async (p: number) => changelog.get(p) ?? new Map(), flush: async () => undefined };
    const partitions = new AlertPartitions(dispatcher, store);
    const sent: AlertNotification[] = [];
    const submitted: string[] = [];
    const pipeline = new NotificationPipeline({
      dispatcher,
      rateLimiter: new RateLimiter(),
      // As the ledger does: a key sent once is not sent again.
      deliverer: { submit: async (n: AlertNotification) => void (submitted.push(n.key), sent.some((x) => x.key === n.key) || sent.push(n)) },
      inbox: { record: async () => undefined, latest: async () => [] },
      snapshots: { load: async () => snapshot, save: async () => undefined },
      ledger: { notifiedSince: async () => [] },
      deadLetters: async () => undefined,
      metrics: { stage: noop, received: noop, flushed: noop, deadLettered: noop },
      partitions,
    } as unknown as PipelineDeps);
    expect((await pipeline.restore()).outbox).toBe(4);
    await pipeline.pause();
    pipeline.start();
    await settle();
    // Nothing before the first assignment says which are this instance's.
    expect(sent).toHaveLength(0);
    // Partition 1 went to another instance: b is its to send (its changelog says b is owed).
    await partitions.assigned([0, 2], Date.now());
    pipeline.resume();
    await settle();
    const keyOf = (host: string) => outbox.find((n) => n.alerts[0]!.labels.host === host)!.key;
    // a: no entry speaks for it (state only in the snapshot); d: its entry says owed (sent from the
    // outbox at once, and flushed again under the same key); c: its entry says another owner paged it.
    expect(sent.map((n) => [n.alerts.map((x) => x.labels.host).join(), n.key]).sort()).toEqual([
      ['a', keyOf('a')],
      ['d', keyOf('d')],
    ]);
    expect(submitted).not.toContain(keyOf('c'));
    expect(submitted).not.toContain(keyOf('b'));
    // A rebalance (revoke, then assignment) does not send the outbox again.
    await pipeline.pause();
    await partitions.revoked();
    await partitions.assigned([0, 1, 2], Date.now());
    pipeline.resume();
    await settle();
    await pipeline.stop();
    expect(sent).toHaveLength(2);
  });
});
