import { decodeAlert, logger, transitionKey } from '@vigil/platform';
import type { AlertNotification } from '../model.js';
import type { AlertEntry, Dispatcher, GroupShare } from '../routing/dispatcher.js';

/**
 * The notifier's state per alert partition, as the rules workers keep theirs: the alerts topic is
 * keyed by fingerprint, so every alert belongs to one partition, and the instance of the consumer
 * group that owns the partition owns the alert. What the dispatcher knows of each alert (its
 * latest transition; in each group, whether it is a member, was notified, and the group's timing)
 * goes to `<groupId>.state`, a compacted changelog with the alerts topic's partitions, keyed by
 * fingerprint. An instance given a partition takes its alerts from there; one that loses it
 * writes what it holds and forgets them.
 *
 * When entries are written:
 * - alerts received: before the batch's offsets are committed (with the inbox insert), so a
 *   transition whose offset is committed is in the changelog;
 * - a notification: once delivered (or given up). Until then its alerts' entries say the group's
 *   state from before the flush, so an instance that dies with a page in flight leaves it owed, and
 *   the next owner sends it (at least once: a death between the provider's answer and the write
 *   sends it again, with the same notification key).
 *
 * A group whose alerts lie in several partitions is split between the instances owning them; each
 * part notifies its own alerts (documented in docs/design.md).
 */

export interface EntryStore {
  put(partition: number, entries: Iterable<[string, AlertEntry | undefined]>): Promise<void>;
  restore(partition: number): Promise<Map<string, AlertEntry>>;
  flush(): Promise<void>;
}

const log = logger('notifier');

interface InFlight {
  id: number;
  before: GroupShare;
}

export class AlertPartitions {
  /** Partition of every alert whose partition is known (received, adopted, or saved with the snapshot). */
  private readonly partitionOf = new Map<string, number>();
  private owned = new Set<number>();
  /** Between a revoke and the next assignment nothing is written (the partitions may be another instance's). */
  private suspended = false;
  /** Notifications not yet delivered, per fingerprint and group key: the group's shares before their flushes, oldest first. */
  private readonly inflight = new Map<string, Map<string, InFlight[]>>();
  private nextId = 0;
  /** What each notification in flight holds back: its group and alerts, by the id `flushed` gave. */
  private readonly flights = new Map<number, { groupKey: string; fingerprints: string[] }>();
  /** Alerts whose entry must be written again (a notification of theirs settled). */
  private readonly redo = new Set<string>();
  private writing: Promise<void> = Promise.resolve();
  /**
   * What this instance last wrote for each alert, while it owns the alert's partition: an entry
   * that says the same again is not written (a flush of a new alert leaves its entry as the batch
   * wrote it, until the notification is delivered). Cleared when partitions change hands.
   */
  private readonly lastWritten = new Map<string, string>();
  private epoch = 0;
  /** The changelog entries taken by the assignments since the last revoke (what `stillOwed` asks at the first one). */
  private readonly adopted = new Map<string, AlertEntry>();
  /** The partitions the snapshot gave (`seed`): which alerts the last run's outbox was about, as that run knew them. */
  private seeded: Readonly<Record<string, number>> = {};

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly store: EntryStore,
  ) {}

  /** The partition an alert arrived on. */
  note(fingerprint: string, partition: number): void {
    this.partitionOf.set(fingerprint, partition);
  }

  /**
   * Whether a notification of the last run's outbox is still this instance's to send: none of its
   * alerts is in a partition another instance owns now (that one sends what its entries say is
   * owed), and no changelog entry taken at an assignment says its group already notified one of
   * its firing alerts in that very transition (the partition's other owner paged it meanwhile).
   */
  stillOwed(n: Pick<AlertNotification, 'groupKey' | 'alerts'>): boolean {
    for (const a of n.alerts) {
      // The snapshot's partitions, not `partitionOf`: the first assignment has already dropped the alerts of partitions not owned.
      const p = this.seeded[a.fingerprint];
      if (p !== undefined && !this.owned.has(p)) return false;
      if (a.status !== 'firing') continue;
      const key = transitionKey(a);
      if (this.adopted.get(a.fingerprint)?.groups.some((g) => g.key === n.groupKey && g.notified && g.lastFiring.includes(key))) return false;
    }
    return true;
  }

  /** Partitions known for the alerts held (saved with the notifier's snapshot). */
  known(): Record<string, number> {
    return Object.fromEntries(this.partitionOf);
  }

  /** Partitions from a snapshot (alerts received since keep theirs). */
  seed(partitions: Record<string, number> | undefined): void {
    this.seeded = partitions ?? {};
    for (const [fp, p] of Object.entries(partitions ?? {})) if (!this.partitionOf.has(fp) && Number.isInteger(p)) this.partitionOf.set(fp, p);
  }

  /**
   * A notification flushed: until `delivered(id)`, the entries of its alerts say their group's
   * state from before the flush.
   */
  flushed(groupKey: string, before: ReadonlyMap<string, GroupShare> | undefined): number {
    const id = ++this.nextId;
    this.flights.set(id, { groupKey, fingerprints: [...(before?.keys() ?? [])] });
    for (const [fp, share] of before ?? []) {
      let byGroup = this.inflight.get(fp);
      if (!byGroup) this.inflight.set(fp, (byGroup = new Map()));
      const list = byGroup.get(groupKey);
      if (list) list.push({ id, before: share });
      else byGroup.set(groupKey, [{ id, before: share }]);
    }
    return id;
  }

  /** The notification `flushed` gave this id was delivered or given up: its alerts' entries say the state after it. False when it was told already. */
  delivered(id: number): boolean {
    const flight = this.flights.get(id);
    if (!flight) return false;
    this.flights.delete(id);
    const { groupKey, fingerprints } = flight;
    for (const fp of fingerprints) {
      const byGroup = this.inflight.get(fp);
      const list = byGroup?.get(groupKey);
      if (!byGroup || !list) continue;
      const i = list.findIndex((f) => f.id === id);
      if (i >= 0) list.splice(i, 1);
      this.redo.add(fp);
      if (list.length === 0) byGroup.delete(groupKey);
      if (byGroup.size === 0) this.inflight.delete(fp);
    }
    return true;
  }

  private overlay(fp: string): Map<string, GroupShare> | undefined {
    const byGroup = this.inflight.get(fp);
    if (!byGroup) return undefined;
    const out = new Map<string, GroupShare>();
    for (const [key, list] of byGroup) if (list[0]) out.set(key, list[0].before);
    return out;
  }

  /**
   * Writes the entries of what changed in the dispatcher, for the partitions owned (others are
   * another instance's to write). Resolves when they are on the changelog.
   */
  write(): Promise<void> {
    // During a rebalance what changed stays pending: the next assignment writes it for the
    // partitions kept (taken now, it would be lost for them).
    if (this.suspended) return this.writing;
    const changed = new Set(this.dispatcher.takeChanged());
    for (const fp of this.redo) changed.add(fp);
    this.redo.clear();
    if (changed.size === 0) return this.writing;
    const byPartition = new Map<number, [string, AlertEntry | undefined][]>();
    const said = new Map<string, string>();
    for (const fp of changed) {
      const p = this.partitionOf.get(fp);
      if (p === undefined || !this.owned.has(p)) continue;
      const entry = this.dispatcher.entry(fp, this.overlay(fp));
      if (entry === undefined) this.partitionOf.delete(fp);
      const text = entry === undefined ? '' : JSON.stringify(entry, sortedKeys);
      if (this.lastWritten.get(fp) === text) continue;
      said.set(fp, text);
      let list = byPartition.get(p);
      if (!list) byPartition.set(p, (list = []));
      list.push([fp, entry]);
    }
    if (byPartition.size === 0) return this.writing;
    const round = Promise.all([...byPartition].map(([p, entries]) => this.store.put(p, entries))).then(() => {
      // Unless partitions changed hands meanwhile (the cache was cleared and may be refilled by then).
      if (this.epoch !== epoch) return;
      for (const [fp, text] of said) {
        if (text === '') this.lastWritten.delete(fp);
        else this.lastWritten.set(fp, text);
      }
    });
    const epoch = this.epoch;
    // Not written: they are written again with the next write.
    this.writing = round.catch(() => {
      for (const list of byPartition.values()) for (const [fp] of list) this.redo.add(fp);
    });
    return round;
  }

  /** Partitions change hands: what was written is no longer known (another owner may write). */
  private forgetWritten(): void {
    this.lastWritten.clear();
    this.epoch++;
  }

  /** Revoked (a rebalance begins): what changed is written, and nothing more until the next assignment. */
  async revoked(): Promise<void> {
    await this.write().catch((err: Error) => log.warn({ err: err.message }, 'cannot write the notifier state of revoked partitions; the next owner starts from the last entries written'));
    this.suspended = true;
    this.forgetWritten();
    this.adopted.clear();
    await this.store.flush();
  }

  /**
   * The partitions owned from now on: the alerts of partitions gone are forgotten, those of new
   * ones taken from the changelog. Out of the group before (`afresh`, or assigned without a revoke
   * first), its partitions may have had another owner meanwhile: everything is taken afresh.
   */
  async assigned(partitions: number[], now: number, afresh = false): Promise<{ restored: Record<number, number>; forgotten: number[] }> {
    const thrownOut = (afresh || !this.suspended) && this.owned.size > 0;
    this.forgetWritten();
    const next = new Set(partitions);
    const fresh = thrownOut ? [...next] : [...next].filter((p) => !this.owned.has(p));
    const gone = [...this.owned].filter((p) => !next.has(p));
    const restored: Record<number, number> = {};
    const entries = await Promise.all(fresh.map(async (p) => [p, await this.store.restore(p)] as const));
    // Alerts of partitions this instance does not own (gone, or known from a snapshot) leave; thrown
    // out, those of every partition held too. An alert of a new partition that the changelog lacks
    // (state only in the snapshot: an upgrade) stays, and is written below.
    const leave: string[] = [];
    for (const [fp, p] of this.partitionOf) if (!next.has(p) || (thrownOut && this.owned.has(p))) leave.push(fp);
    this.dispatcher.forget(leave);
    for (const fp of leave) {
      this.partitionOf.delete(fp);
      this.inflight.delete(fp);
    }
    for (const [p, map] of entries) {
      restored[p] = map.size;
      for (const [fp, entry] of map) {
        this.dispatcher.adopt(fp, entry, now);
        this.partitionOf.set(fp, p);
        this.adopted.set(fp, entry);
      }
    }
    this.owned = next;
    this.suspended = false;
    // What adopt routed afresh (a route gone) is written under the new owner.
    await this.write().catch(() => undefined);
    return { restored, forgotten: gone };
  }

  /** Partitions owned and restored. */
  get partitions(): ReadonlySet<number> {
    return this.owned;
  }
}

/** JSON.stringify's replacer for a text that does not depend on the order keys were set in. */
function sortedKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A changelog value: JSON, the transition checked as one read from the alerts topic. */
export function encodeAlertEntry(e: AlertEntry): Buffer {
  return Buffer.from(JSON.stringify(e));
}

export function decodeAlertEntry(bytes: Buffer): AlertEntry {
  const parsed = JSON.parse(bytes.toString('utf8')) as { v?: unknown; alert?: { alert?: unknown; updatedAt?: unknown }; groups?: unknown };
  if (parsed.v !== 1) throw new Error(`notifier state entry version ${String(parsed.v)} is not supported (expected 1)`);
  if (!Array.isArray(parsed.groups)) throw new Error('notifier state entry: groups is not a list');
  const groups: GroupShare[] = [];
  for (const g of parsed.groups as Partial<GroupShare>[]) {
    if (typeof g?.key !== 'string' || typeof g.routeId !== 'string' || typeof g.labels !== 'object' || g.labels === null) throw new Error('notifier state entry: a group lacks key, routeId or labels');
    groups.push({
      key: g.key,
      routeId: g.routeId,
      labels: g.labels,
      member: g.member === true,
      notified: g.notified === true,
      lastFiring: Array.isArray(g.lastFiring) ? g.lastFiring.filter((k): k is string => typeof k === 'string') : [],
      ...(typeof g.lastSentAt === 'number' ? { lastSentAt: g.lastSentAt } : {}),
      ...(typeof g.lastTickAt === 'number' ? { lastTickAt: g.lastTickAt } : {}),
      ...(typeof g.nextAt === 'number' ? { nextAt: g.nextAt } : {}),
      hasFlushed: g.hasFlushed === true,
      repeat: typeof g.repeat === 'number' ? g.repeat : 0,
    });
  }
  const a = parsed.alert;
  const alert = a && a.alert !== undefined ? { alert: decodeAlert(Buffer.from(JSON.stringify(a.alert))), updatedAt: typeof a.updatedAt === 'number' ? a.updatedAt : 0 } : undefined;
  return { v: 1, ...(alert ? { alert } : {}), groups };
}
