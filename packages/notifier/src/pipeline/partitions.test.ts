import { checkSection, fingerprint, type AlertTransition } from '@vigil/platform';
import { describe, expect, it } from 'vitest';
import { RouteConfig } from '../routing/config.js';
import { Dispatcher, type AlertEntry, type FlushedGroup } from '../routing/dispatcher.js';
import { compileRoutes } from '../routing/routes.js';
import { AlertPartitions, decodeAlertEntry, encodeAlertEntry, type EntryStore } from './partitions.js';

const S = 1000;
const M = 60 * S;
const T0 = Date.parse('2025-06-02T10:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

function firing(host: string, startsAt = T0): AlertTransition {
  const labels = { alertname: 'cpu', host };
  return { fingerprint: fingerprint(labels), status: 'firing', severity: 'warning', labels, annotations: { summary: 'cpu high' }, startsAt: iso(startsAt), value: 1, rule: 'cpu', window: 60_000 };
}
const resolved = (a: AlertTransition, at: number): AlertTransition => ({ ...a, status: 'resolved', endsAt: iso(at) });

/** One group for every cpu alert: its alerts lie in several partitions. */
const routes = () => compileRoutes(checkSection(RouteConfig, { receiver: 'team', groupBy: ['alertname'], groupWait: '30s', groupInterval: '5m', repeatInterval: '4h' }, 'route'));

/** A compacted changelog in memory: the latest value per partition and key (JSON round trip, as on the topic). */
class MemoryChangelog implements EntryStore {
  readonly partitions = new Map<number, Map<string, Buffer>>();
  writes = 0;
  async put(partition: number, entries: Iterable<[string, AlertEntry | undefined]>): Promise<void> {
    let p = this.partitions.get(partition);
    if (!p) this.partitions.set(partition, (p = new Map()));
    for (const [k, v] of entries) {
      this.writes++;
      if (v === undefined) p.delete(k);
      else p.set(k, encodeAlertEntry(v));
    }
  }
  async restore(partition: number): Promise<Map<string, AlertEntry>> {
    return new Map([...(this.partitions.get(partition) ?? [])].map(([k, v]) => [k, decodeAlertEntry(v)]));
  }
  async flush(): Promise<void> {}
}

/** An instance: a dispatcher and its partitions, fed alerts with their partition, flushed on a virtual clock. */
function instance(store: EntryStore) {
  const dispatcher = new Dispatcher({ routes: routes() });
  const parts = new AlertPartitions(dispatcher, store);
  return {
    dispatcher,
    parts,
    async receive(a: AlertTransition, partition: number, now: number) {
      dispatcher.receive(a, now);
      parts.note(a.fingerprint, partition);
      await parts.write();
    },
    /** Flushes what is due; `deliver` false leaves the notifications in flight. */
    async flush(now: number, deliver = true): Promise<FlushedGroup[]> {
      const groups = dispatcher.flush(now);
      const ids = groups.map((g) => parts.flushed(g.groupKey, g.before));
      // As the pipeline: written at the flush (notifications in flight), again once delivered.
      await parts.write();
      if (deliver) {
        for (const id of ids) parts.delivered(id);
        await parts.write();
      }
      return groups;
    },
  };
}

const fps = (g: FlushedGroup, status: 'firing' | 'resolved') => g.alerts.filter((a) => a.status === status).map((a) => a.labels.host).sort();

describe('notifier state per alert partition', () => {
  it('hands an alert over: the new owner neither pages it again nor loses its resolve, the old one keeps the rest of the group quiet', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    const b = instance(log);
    await a.parts.assigned([0, 1], T0);
    const x = firing('x');
    const y = firing('y');
    await a.receive(x, 0, T0);
    await a.receive(y, 1, T0);
    const first = await a.flush(T0 + 30 * S);
    expect(first.map((g) => fps(g, 'firing'))).toEqual([['x', 'y']]);

    // A rebalance: partition 0 goes to b.
    await a.parts.revoked();
    await a.parts.assigned([1], T0 + M);
    await b.parts.assigned([0], T0 + M);
    expect(a.dispatcher.alerts().map((t) => t.labels.host)).toEqual(['y']);
    expect(b.dispatcher.alerts().map((t) => t.labels.host)).toEqual(['x']);

    // Group ticks after the hand-over: nothing new, nothing sent by either.
    expect(await a.flush(T0 + 30 * S + 5 * M)).toEqual([]);
    expect(await b.flush(T0 + 30 * S + 5 * M)).toEqual([]);

    // x resolves on its new owner: the resolve goes out there, once.
    await b.receive(resolved(x, T0 + 6 * M), 0, T0 + 6 * M);
    const later = await b.flush(T0 + 30 * S + 10 * M);
    expect(later.map((g) => [g.status, fps(g, 'resolved')])).toEqual([['resolved', ['x']]]);
    expect(await a.flush(T0 + 30 * S + 10 * M)).toEqual([]);
    // Repeats keep the group's clock: 4 h after the first page, from a, for y only.
    const repeat = await a.flush(T0 + 30 * S + 4 * 60 * M + 1);
    expect(repeat.map((g) => [g.reason, fps(g, 'firing')])).toEqual([['repeat', ['y']]]);
  });

  it('writes an entry only when it says something new', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    await a.parts.assigned([0], T0);
    const x = firing('x');
    await a.receive(x, 0, T0);
    expect(log.writes).toBe(1);
    // The flush leaves x's entry as the batch wrote it (its group's state before the flush) until delivered.
    expect(await a.flush(T0 + 30 * S, false)).toHaveLength(1);
    expect(log.writes).toBe(1);
    a.parts.delivered(1);
    await a.parts.write();
    expect(log.writes).toBe(2);
    expect(decodeAlertEntry(log.partitions.get(0)!.get(x.fingerprint)!).groups[0]!.notified).toBe(true);
  });

  it('an instance that dies with a page in flight leaves it owed: the next owner sends it', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    await a.parts.assigned([0], T0);
    const x = firing('x');
    await a.receive(x, 0, T0);
    expect(await a.flush(T0 + 30 * S, false)).toHaveLength(1);
    // a is SIGKILLed here: no revoke. b is given partition 0.
    const b = instance(log);
    await b.parts.assigned([0], T0 + M);
    const sent = await b.flush(T0 + M + 30 * S);
    expect(sent.map((g) => [g.reason, fps(g, 'firing')])).toEqual([['firing', ['x']]]);
  });

  it('a delivered page is known to the next owner even when the owner dies right after', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    await a.parts.assigned([0], T0);
    const x = firing('x');
    await a.receive(x, 0, T0);
    await a.flush(T0 + 30 * S);
    const b = instance(log);
    await b.parts.assigned([0], T0 + M);
    expect(await b.flush(T0 + 10 * M)).toEqual([]);
    await b.receive(resolved(x, T0 + 11 * M), 0, T0 + 11 * M);
    const out = await b.flush(T0 + 20 * M);
    expect(out.map((g) => g.status)).toEqual(['resolved']);
  });

  it('a page delivered during a rebalance is written once the partition is assigned again', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    await a.parts.assigned([0], T0);
    const x = firing('x');
    await a.receive(x, 0, T0);
    const [page] = a.dispatcher.flush(T0 + 30 * S);
    const id = a.parts.flushed(page!.groupKey, page!.before);
    await a.parts.write();
    // A rebalance begins with the page in flight; it is delivered before the assignment.
    await a.parts.revoked();
    a.parts.delivered(id);
    await a.parts.write();
    await a.parts.assigned([0], T0 + M);
    // a dies: the next owner knows the page was sent.
    const b = instance(log);
    await b.parts.assigned([0], T0 + 2 * M);
    expect(await b.flush(T0 + 3 * M)).toEqual([]);
  });

  it('writes nothing for partitions it does not own, and forgets them when they go', async () => {
    const log = new MemoryChangelog();
    const a = instance(log);
    await a.parts.assigned([0], T0);
    await a.receive(firing('x'), 0, T0);
    await a.receive(firing('y'), 1, T0); // not owned (a stray record): kept in memory, never written
    expect([...(log.partitions.get(1) ?? new Map()).keys()]).toEqual([]);
    expect(log.partitions.get(0)?.size).toBe(1);
    await a.parts.revoked();
    await a.parts.assigned([], T0 + M);
    expect(a.dispatcher.alerts()).toEqual([]);
  });

  // Out of the group while b owned partition 0, saw x resolve and notified it; a comes back with
  // partition 0 and must not send x's resolve a second time. Without a revoke (thrown out), or after
  // the revoke the bus sends before every rejoin, where only `afresh` tells the gap from a rebalance
  // a was part of.
  it.each([
    ['thrown out of the group (assigned without a revoke)', false],
    ['told afresh (it rejoined under a new member id, after a revoke)', true],
  ])('%s, takes its partitions afresh from the changelog', async (_what, afresh) => {
    const log = new MemoryChangelog();
    const a = instance(log);
    const b = instance(log);
    await a.parts.assigned([0], T0);
    const x = firing('x');
    await a.receive(x, 0, T0);
    await a.flush(T0 + 30 * S);
    await b.parts.assigned([0], T0 + M);
    await b.receive(resolved(x, T0 + 2 * M), 0, T0 + 2 * M);
    expect((await b.flush(T0 + 6 * M)).map((g) => g.status)).toEqual(['resolved']);
    if (afresh) await a.parts.revoked();
    await a.parts.assigned([0], T0 + 7 * M, afresh);
    // a holds what the changelog says of x (b's last word), not the firing it held before.
    expect(a.dispatcher.entry(x.fingerprint)).toEqual((await log.restore(0)).get(x.fingerprint));
    expect(await a.flush(T0 + 20 * M)).toEqual([]);
  });

  it('an entry survives the topic (JSON) and a bad one is refused with a reason', () => {
    const d = new Dispatcher({ routes: routes() });
    const x = firing('x');
    d.receive(x, T0);
    d.flush(T0 + 30 * S);
    const e = d.entry(x.fingerprint)!;
    expect(decodeAlertEntry(encodeAlertEntry(e))).toEqual(e);
    expect(() => decodeAlertEntry(Buffer.from('{"v":2,"groups":[]}'))).toThrow(/version 2/);
    expect(() => decodeAlertEntry(Buffer.from('{"v":1,"groups":[{"key":1}]}'))).toThrow(/key, routeId or labels/);
    expect(() => decodeAlertEntry(Buffer.from('{"v":1,"groups":[],"alert":{"alert":{"status":"maybe"}}}'))).toThrow();
  });
});
