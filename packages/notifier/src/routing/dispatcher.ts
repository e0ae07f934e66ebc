import { transitionKey, type AlertTransition } from '@vigil/platform';
import { groupKey, highestSeverity, withSeverityLabel } from '../model.js';
import { compileInhibitRules, Inhibitions, type InhibitRule } from './inhibit.js';
import { alertLabels, groupingLabels } from './matchers.js';
import type { Route } from './routes.js';
import { SilenceSet } from './silences.js';
import type { TimeInterval } from './timeintervals.js';

/**
 * The dispatcher (Alertmanager's dispatch/ aggregation groups and notify/ dedup stage), as pure
 * logic on a caller's clock: `receive` alert transitions, `flush(now)` at `nextFlushAt()`.
 *
 * Each route an alert matches puts it in a group (route + group-by label values). A new group
 * flushes after groupWait, then ticks every groupInterval. At a tick the group's firing alerts
 * that no silence or inhibition mutes are compared with the last notification of that group:
 * - a firing transition not in it (new, re-fired, escalated, unsilenced) → notify (`reason: 'firing'`);
 * - else a resolved alert whose firing was notified → notify (`'resolved'`), then drop it;
 * - else firing alerts and repeatInterval since the last notification → notify (`'repeat'`).
 * A resolved alert whose firing this group never notified is dropped without a word (no lone
 * resolve). A route inside a mute time interval (or outside its active ones) sends nothing and
 * keeps its resolves for after the window.
 *
 * Deliberate difference from Alertmanager: the resolve of an alert already notified as firing
 * is sent even if a silence or inhibition now matches it: a mute stops new pages, it should not
 * leave one already sent open forever.
 *
 * A flush marks what it returns as notified; the delivery stage (ledger, retries, fallback)
 * owns what happens next.
 */

export interface DispatcherOptions {
  routes: Route;
  /** Compiled rules; absent means the default rule (a critical mutes warnings of the same alertname and host). */
  inhibitRules?: readonly InhibitRule[];
  /** Named intervals the routes refer to (compileTimeIntervals). */
  timeIntervals?: ReadonlyMap<string, TimeInterval>;
  /** Shared with the API that adds and expires silences. */
  silences?: SilenceSet;
  /** How long a resolved alert is remembered, so a replayed older transition cannot revive it. Default 24h. */
  resolvedRetention?: number;
}

/** Why a group was notified; a channel that does not send resolves skips `'resolved'` and drops resolved alerts from the others. */
export type FlushReason = 'firing' | 'resolved' | 'repeat';

/** A group due for notification: the fields of AlertNotification but the key and heldBack (see toNotification). */
export interface FlushedGroup {
  receiver: string;
  groupKey: string;
  routeId: string;
  groupLabels: Record<string, string>;
  status: 'firing' | 'resolved';
  severity: AlertTransition['severity'];
  /** Firing first, then resolved; each sorted by startsAt then fingerprint. */
  alerts: AlertTransition[];
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  reason: FlushReason;
  /** 0, or the how-manieth repeat of an unchanged group: part of the notification key, so the ledger lets repeats through. */
  repeat: number;
  /** Epoch ms of the flush; `createdAt` is the same in RFC 3339. */
  flushedAt: number;
  createdAt: string;
  /** The group's share of each of these alerts before this flush (what a changelog says until the notification is delivered). */
  before?: Map<string, GroupShare>;
}

interface Stored {
  alert: AlertTransition;
  /** What routes, silences and inhibition match on (`alertLabels`). */
  labels: Record<string, string>;
  /** What groups are made of (`groupingLabels`: no `rule`, which is not a label). */
  grouping: Record<string, string>;
  /** transitionKey(alert), computed once: ticks compare it for every member. */
  key: string;
  updatedAt: number;
}

interface Group {
  key: string;
  route: Route;
  labels: Record<string, string>;
  /** Alerts in the group now (their latest transition is in the store). */
  members: Set<string>;
  /** Fingerprints whose firing this group notified and whose resolve it has not sent. */
  notified: Set<string>;
  /** Transition keys of the firing alerts of the last notification. */
  lastFiring: Set<string>;
  lastSentAt: number | undefined;
  lastTickAt: number | undefined;
  /** undefined when there is nothing to tick for (no members). */
  nextAt: number | undefined;
  hasFlushed: boolean;
  repeat: number;
}

/** Plain JSON for persisting a dispatcher across restarts. */
/** A firing alert as the alert view shows it (`Dispatcher.view`). */
export interface AlertView {
  alert: AlertTransition;
  updatedAt: number;
  receivers: string[];
  silencedBy: string[];
  inhibitedBy: string[];
}

export interface DispatcherState {
  version: 1;
  alerts: { alert: AlertTransition; updatedAt: number }[];
  groups: (SavedGroup & { members: string[]; notified: string[]; lastFiring: string[] })[];
}

/** A group's identity and timing, as saved (a snapshot, a changelog entry). */
export interface SavedGroup {
  key: string;
  routeId: string;
  labels: Record<string, string>;
  lastSentAt?: number;
  lastTickAt?: number;
  nextAt?: number;
  hasFlushed: boolean;
  repeat: number;
}

/**
 * What one group holds of one alert, with the group's timing: the part of an AlertEntry that
 * lets another instance continue the group where this one left it.
 */
export interface GroupShare extends SavedGroup {
  /** The alert is in the group now. */
  member: boolean;
  /** The group notified the alert firing and owes its resolve. */
  notified: boolean;
  /** The alert's transition keys in the group's last notification. */
  lastFiring: string[];
}

function savedGroup(g: Group): SavedGroup {
  return {
    key: g.key,
    routeId: g.route.id,
    labels: g.labels,
    ...(g.lastSentAt !== undefined ? { lastSentAt: g.lastSentAt } : {}),
    ...(g.lastTickAt !== undefined ? { lastTickAt: g.lastTickAt } : {}),
    ...(g.nextAt !== undefined ? { nextAt: g.nextAt } : {}),
    hasFlushed: g.hasFlushed,
    repeat: g.repeat,
  };
}

/**
 * Everything the dispatcher knows about one alert (its latest transition, the groups holding it):
 * the value of a changelog keyed by fingerprint, so that the instance given the alert's partition
 * continues it (no second page, no lost resolve).
 */
export interface AlertEntry {
  v: 1;
  alert?: { alert: AlertTransition; updatedAt: number };
  groups: GroupShare[];
}

const DAY = 86_400_000;

/** Whether `a` is a later state of the same alert than `b`; replays and older transitions are not. */
export function isNewerTransition(a: AlertTransition, b: AlertTransition): boolean {
  const sa = Date.parse(a.startsAt);
  const sb = Date.parse(b.startsAt);
  if (sa !== sb) return sa > sb;
  if (a.status !== b.status) return a.status === 'resolved';
  if (a.status === 'resolved') {
    const ea = Date.parse(a.endsAt ?? '');
    const eb = Date.parse(b.endsAt ?? '');
    return !Number.isNaN(ea) && (Number.isNaN(eb) || ea > eb);
  }
  // Same firing episode: only a change of severity is news (escalation or de-escalation).
  return a.severity !== b.severity;
}

function groupKeyOf(route: Route, groupLabels: Record<string, string>): string {
  return groupKey(route.id, groupLabels);
}

function byStartThenFingerprint(a: AlertTransition, b: AlertTransition): number {
  return a.startsAt < b.startsAt ? -1 : a.startsAt > b.startsAt ? 1 : a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0;
}

function common(maps: Record<string, string>[]): Record<string, string> {
  const first = maps[0];
  if (!first) return {};
  const out: Record<string, string> = {};
  for (const k of Object.keys(first).sort()) {
    const v = first[k]!;
    if (maps.every((m) => m[k] === v)) out[k] = v;
  }
  return out;
}

export class Dispatcher {
  private readonly routes: Route;
  private readonly routesById = new Map<string, Route>();
  private readonly inhibitRules: readonly InhibitRule[];
  private readonly timeIntervals: ReadonlyMap<string, TimeInterval>;
  readonly silences: SilenceSet;
  private readonly resolvedRetention: number;
  private readonly store = new Map<string, Stored>();
  private readonly groups = new Map<string, Group>();
  /** fingerprint → groups holding it as a member or as notified. */
  private readonly byFingerprint = new Map<string, Set<Group>>();
  /** Inhibitions of the current store; rebuilt only after a transition changed it (idle ticks are the common case). */
  private inhibitionCache: Inhibitions | undefined;
  private lastGcAt = Number.NEGATIVE_INFINITY;
  /** Fingerprints whose entry() changed since the last takeChanged(). */
  private readonly changed = new Set<string>();

  constructor(opts: DispatcherOptions) {
    this.routes = opts.routes;
    const walk = (r: Route) => {
      this.routesById.set(r.id, r);
      r.routes.forEach(walk);
    };
    walk(opts.routes);
    this.inhibitRules = opts.inhibitRules ?? compileInhibitRules(undefined);
    this.timeIntervals = opts.timeIntervals ?? new Map();
    this.silences = opts.silences ?? new SilenceSet();
    this.resolvedRetention = opts.resolvedRetention ?? DAY;
  }

  /**
   * Takes one transition (its severity made a label, for transitions of producers that did not).
   * Returns false when it changes nothing: a replay, or a transition older than what is known for
   * its fingerprint.
   */
  receive(transition: AlertTransition, now: number): boolean {
    const alert = withSeverityLabel(transition);
    const fp = alert.fingerprint;
    const prev = this.store.get(fp);
    if (prev && !isNewerTransition(alert, prev.alert)) return false;
    const stored = this.stored(alert, now);
    this.store.set(fp, stored);
    this.changed.add(fp);
    this.inhibitionCache = undefined;
    const related = this.byFingerprint.get(fp);
    if (alert.status === 'resolved') {
      // Only groups that hold it care; one that never notified it drops it at its next tick.
      if (related) for (const g of related) this.addMember(g, stored, now);
      return true;
    }
    const targets = new Set<Group>();
    for (const route of this.routes.match(stored.labels)) {
      const labels = route.groupLabels(stored.grouping);
      const key = groupKeyOf(route, labels);
      let g = this.groups.get(key);
      if (!g) {
        g = { key, route, labels, members: new Set(), notified: new Set(), lastFiring: new Set(), lastSentAt: undefined, lastTickAt: undefined, nextAt: undefined, hasFlushed: false, repeat: 0 };
        this.groups.set(key, g);
      }
      this.addMember(g, stored, now);
      targets.add(g);
    }
    // A severity change can move an alert to other routes: leave the old groups, which still
    // owe their receiver the resolve if they notified it.
    if (related) {
      for (const g of [...related]) {
        if (targets.has(g) || !g.members.has(fp)) continue;
        g.members.delete(fp);
        // Grouped by severity too (groupBy ['...']), an escalated alert lands in another group of
        // the same receiver: that group owes the receiver its resolve now, one resolve not two.
        if (g.notified.has(fp)) {
          for (const t of targets) {
            if (t.route.receiver !== g.route.receiver) continue;
            t.notified.add(fp);
            g.notified.delete(fp);
            break;
          }
        }
        this.release(g, fp);
      }
    }
    return true;
  }

  /** When the next group is due; undefined when none is. Sleep until then (or the next receive). */
  nextFlushAt(): number | undefined {
    let min: number | undefined;
    for (const g of this.groups.values()) if (g.nextAt !== undefined && (min === undefined || g.nextAt < min)) min = g.nextAt;
    return min;
  }

  /** Ticks every group due at `now` and returns the notifications to send, in due order. */
  flush(now: number): FlushedGroup[] {
    const due: Group[] = [];
    for (const g of this.groups.values()) if (g.nextAt !== undefined && g.nextAt <= now) due.push(g);
    due.sort((a, b) => a.nextAt! - b.nextAt! || (a.key < b.key ? -1 : 1));
    const out: FlushedGroup[] = [];
    if (due.length > 0) {
      const inhibitions = this.inhibitions();
      for (const g of due) {
        const f = this.tick(g, now, inhibitions);
        if (f) out.push(f);
      }
    }
    // Forgetting old resolved alerts can wait: once a minute is plenty.
    if (now - this.lastGcAt >= 60_000) {
      this.lastGcAt = now;
      this.gc(now);
    }
    return out;
  }

  /** The latest transition of every alert known (firing, and resolved ones within the retention). */
  alerts(): AlertTransition[] {
    return [...this.store.values()].map((s) => s.alert);
  }

  /** The transition key of what is known of an alert now (`transitionKey`), if it is known. */
  currentKey(fp: string): string | undefined {
    return this.store.get(fp)?.key;
  }

  /** Why an alert is not notified at `now`: silences (ids) and inhibition. For the API's alert view. */
  mutedBy(fp: string, now: number): { silencedBy: string[]; inhibited: boolean } | undefined {
    const s = this.store.get(fp);
    if (!s) return undefined;
    return { silencedBy: this.silences.silencedBy(s.labels, now), inhibited: this.inhibitions().isInhibited({ fingerprint: fp, labels: s.labels }) };
  }

  /**
   * The firing alerts as Alertmanager's API shows them: each with the receivers its routes name,
   * the silences that match it and the alerts that inhibit it at `now`, and when it last changed.
   */
  view(now: number): AlertView[] {
    const inhibitions = this.inhibitions();
    const out: AlertView[] = [];
    for (const s of this.store.values()) {
      if (s.alert.status !== 'firing') continue;
      const receivers = [...new Set(this.routes.match(s.labels).map((r) => r.receiver))];
      out.push({
        alert: s.alert,
        updatedAt: s.updatedAt,
        receivers,
        silencedBy: this.silences.silencedBy(s.labels, now),
        inhibitedBy: inhibitions.inhibitedBy({ fingerprint: s.alert.fingerprint, labels: s.labels }),
      });
    }
    return out.sort((a, b) => byStartThenFingerprint(a.alert, b.alert));
  }

  /** The groups holding firing alerts, with their receiver and group labels (Alertmanager's alert groups). */
  groupsView(): { labels: Record<string, string>; receiver: string; fingerprints: string[] }[] {
    const out: { labels: Record<string, string>; receiver: string; fingerprints: string[] }[] = [];
    for (const g of this.groups.values()) {
      const fingerprints = [...g.members].filter((fp) => this.store.get(fp)?.alert.status === 'firing');
      if (fingerprints.length > 0) out.push({ labels: { ...g.labels }, receiver: g.route.receiver, fingerprints });
    }
    return out;
  }

  /** Number of live groups (a gauge for /metrics). */
  get groupCount(): number {
    return this.groups.size;
  }

  state(): DispatcherState {
    return {
      version: 1,
      alerts: [...this.store.values()].map((s) => ({ alert: s.alert, updatedAt: s.updatedAt })),
      groups: [...this.groups.values()].map((g) => ({ ...savedGroup(g), members: [...g.members], notified: [...g.notified], lastFiring: [...g.lastFiring] })),
    };
  }

  /**
   * Replaces the contents with a saved state. Groups of routes that no longer exist (the config
   * changed) are dropped and their firing alerts routed afresh at `now`.
   */
  restore(state: DispatcherState, now: number): void {
    if (state.version !== 1) throw new Error(`dispatcher state version ${String(state.version)} is not supported (expected 1); start without it`);
    this.store.clear();
    this.inhibitionCache = undefined;
    this.groups.clear();
    this.byFingerprint.clear();
    for (const a of state.alerts) {
      const alert = withSeverityLabel(a.alert);
      this.store.set(alert.fingerprint, this.stored(alert, a.updatedAt));
    }
    for (const s of state.groups) {
      const route = this.routesById.get(s.routeId);
      if (!route) continue;
      const g: Group = {
        key: s.key,
        route,
        labels: s.labels,
        members: new Set(s.members.filter((fp) => this.store.has(fp))),
        notified: new Set(s.notified),
        lastFiring: new Set(s.lastFiring),
        lastSentAt: s.lastSentAt,
        lastTickAt: s.lastTickAt,
        nextAt: s.nextAt,
        hasFlushed: s.hasFlushed,
        repeat: s.repeat,
      };
      this.groups.set(g.key, g);
      for (const fp of g.members) this.index(g, fp);
      for (const fp of g.notified) this.index(g, fp);
    }
    for (const s of this.store.values()) {
      if (s.alert.status !== 'firing' || this.byFingerprint.has(s.alert.fingerprint)) continue;
      this.store.delete(s.alert.fingerprint);
      this.receive(s.alert, now);
    }
    for (const fp of this.store.keys()) this.changed.add(fp);
  }

  /** Fingerprints whose entry() may have changed since the last call (received, notified, dropped, forgotten by age). */
  takeChanged(): string[] {
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  /** The group's last notification's transition keys by fingerprint (cached per set; sets changed in place drop theirs). */
  private readonly firingIndex = new WeakMap<Set<string>, Map<string, string[]>>();

  private lastFiringOf(g: Group, fp: string): string[] {
    let index = this.firingIndex.get(g.lastFiring);
    if (!index) {
      index = new Map();
      for (const k of g.lastFiring) {
        const f = k.slice(0, k.indexOf(':'));
        const list = index.get(f);
        if (list) list.push(k);
        else index.set(f, [k]);
      }
      this.firingIndex.set(g.lastFiring, index);
    }
    return index.get(fp) ?? [];
  }

  private share(g: Group, fp: string): GroupShare {
    return { ...savedGroup(g), member: g.members.has(fp), notified: g.notified.has(fp), lastFiring: [...this.lastFiringOf(g, fp)] };
  }

  /**
   * What this dispatcher knows of one alert; undefined when nothing (a changelog tombstone).
   * `overlay`: shares to say instead of the current ones, by group key (a notification not yet
   * delivered: its group's state from before the flush).
   */
  entry(fp: string, overlay?: ReadonlyMap<string, GroupShare>): AlertEntry | undefined {
    const s = this.store.get(fp);
    const held = this.byFingerprint.get(fp);
    const groups = new Map<string, GroupShare>();
    for (const g of held ?? []) groups.set(g.key, this.share(g, fp));
    for (const [key, share] of overlay ?? []) groups.set(key, share);
    if (!s && groups.size === 0) return undefined;
    return { v: 1, ...(s ? { alert: { alert: s.alert, updatedAt: s.updatedAt } } : {}), groups: [...groups.values()] };
  }

  /**
   * Takes an alert as another instance left it (its partition's changelog), in place of anything
   * known here about it. A group this instance also holds keeps its own timing, with the later
   * notification's time and the union of what both notified. Groups of routes that no longer
   * exist are skipped, and a firing alert no group holds then is routed afresh.
   */
  adopt(fp: string, entry: AlertEntry, now: number): void {
    this.forget([fp]);
    let stored: Stored | undefined;
    if (entry.alert) {
      stored = this.stored(withSeverityLabel(entry.alert.alert), entry.alert.updatedAt);
      this.store.set(fp, stored);
    }
    for (const share of entry.groups) {
      const route = this.routesById.get(share.routeId);
      if (!route) continue;
      let g = this.groups.get(share.key);
      if (!g) {
        g = { key: share.key, route, labels: share.labels, members: new Set(), notified: new Set(), lastFiring: new Set(), lastSentAt: share.lastSentAt, lastTickAt: share.lastTickAt, nextAt: undefined, hasFlushed: share.hasFlushed, repeat: share.repeat };
        this.groups.set(g.key, g);
      } else {
        if (share.lastSentAt !== undefined) g.lastSentAt = Math.max(g.lastSentAt ?? share.lastSentAt, share.lastSentAt);
        if (share.lastTickAt !== undefined) g.lastTickAt = Math.max(g.lastTickAt ?? share.lastTickAt, share.lastTickAt);
        g.hasFlushed ||= share.hasFlushed;
        g.repeat = Math.max(g.repeat, share.repeat);
      }
      if (share.lastFiring.length > 0) this.firingIndex.delete(g.lastFiring);
      for (const k of share.lastFiring) g.lastFiring.add(k);
      if (share.notified) {
        g.notified.add(fp);
        this.index(g, fp);
      }
      if (share.member && stored) {
        if (g.nextAt === undefined && share.nextAt !== undefined) g.nextAt = Math.max(now, share.nextAt);
        this.addMember(g, stored, now);
      }
      if (g.members.size === 0 && g.notified.size === 0) this.groups.delete(g.key);
    }
    if (stored && stored.alert.status === 'firing' && !this.byFingerprint.has(fp)) {
      this.store.delete(fp);
      this.receive(stored.alert, now);
    }
  }

  /** Drops alerts (their partition went to another instance): from the store and every group. */
  forget(fps: Iterable<string>): void {
    for (const fp of fps) {
      for (const g of [...(this.byFingerprint.get(fp) ?? [])]) {
        g.members.delete(fp);
        g.notified.delete(fp);
        for (const k of this.lastFiringOf(g, fp)) g.lastFiring.delete(k);
        this.firingIndex.delete(g.lastFiring);
        this.release(g, fp);
      }
      this.byFingerprint.delete(fp);
      this.store.delete(fp);
      this.changed.delete(fp);
    }
    this.inhibitionCache = undefined;
  }

  /**
   * A notification the ledger holds (its group key, the transition keys it carried, when): after a
   * restart from a snapshot older than the last flushes, this tells the group what it notified, so
   * it owes their resolves and does not page their firing again. Call after the inbox's
   * transitions were received, oldest notification first. False when no route makes this group.
   */
  acknowledge(groupKey: string, transitions: readonly string[], at: number, now: number): boolean {
    let g = this.groups.get(groupKey);
    if (!g) {
      for (const t of transitions) {
        const s = this.store.get(t.slice(0, t.indexOf(':')));
        if (!s) continue;
        // The group as it was keyed then: the severity of the transition notified, not the latest.
        const labels = { ...s.grouping, severity: t.slice(t.lastIndexOf(':') + 1) };
        for (const route of this.routesById.values()) {
          const groupLabels = route.groupLabels(labels);
          if (groupKeyOf(route, groupLabels) !== groupKey) continue;
          g = { key: groupKey, route, labels: groupLabels, members: new Set(), notified: new Set(), lastFiring: new Set(), lastSentAt: undefined, lastTickAt: undefined, nextAt: undefined, hasFlushed: true, repeat: 0 };
          this.groups.set(groupKey, g);
          break;
        }
        if (g) break;
      }
      if (!g) return false;
    }
    const firing = new Set<string>();
    for (const t of transitions) {
      const fp = t.slice(0, t.indexOf(':'));
      if (t.endsWith(':firing', t.lastIndexOf(':'))) {
        firing.add(t);
        g.notified.add(fp);
        this.index(g, fp);
        const s = this.store.get(fp);
        // Still here (resolved and now owed, or firing in this group still): a member, so its
        // next tick sees it. Escalated since into another group, it stays only owed here.
        if (s && !g.members.has(fp) && (s.alert.status === 'resolved' || groupKeyOf(g.route, g.route.groupLabels(s.grouping)) === g.key)) this.addMember(g, s, now);
      } else {
        g.notified.delete(fp);
        g.members.delete(fp);
        this.release(g, fp);
      }
    }
    g.hasFlushed = true;
    for (const t of g.lastFiring) this.changed.add(t.slice(0, t.indexOf(':')));
    for (const t of transitions) this.changed.add(t.slice(0, t.indexOf(':')));
    for (const fp of g.members) this.changed.add(fp);
    g.lastFiring = firing;
    g.lastSentAt = Math.max(g.lastSentAt ?? at, at);
    g.lastTickAt = Math.max(g.lastTickAt ?? at, at);
    // Its next tick as if this notification had been its last one (news waits groupInterval, as usual).
    if (g.members.size > 0) g.nextAt = Math.max(now, g.lastTickAt + g.route.groupInterval);
    if (g.members.size === 0 && g.notified.size === 0) this.groups.delete(g.key);
    return true;
  }

  private stored(alert: AlertTransition, updatedAt: number): Stored {
    return { alert, labels: alertLabels(alert), grouping: groupingLabels(alert), key: transitionKey(alert), updatedAt };
  }

  private addMember(g: Group, s: Stored, now: number): void {
    const fp = s.alert.fingerprint;
    g.members.add(fp);
    this.index(g, fp);
    if (!g.hasFlushed) {
      if (g.nextAt === undefined) g.nextAt = now + g.route.groupWait;
      // As Alertmanager: an alert that started long enough ago needs no more waiting.
      const started = Date.parse(s.alert.startsAt);
      if (started + g.route.groupWait < now) g.nextAt = Math.min(g.nextAt, now);
    } else if (g.nextAt === undefined) {
      g.nextAt = Math.max(now, (g.lastTickAt ?? now) + g.route.groupInterval);
    }
  }

  private index(g: Group, fp: string): void {
    let set = this.byFingerprint.get(fp);
    if (!set) this.byFingerprint.set(fp, (set = new Set()));
    set.add(g);
  }

  /** After fp left g's members or notified: unindex when g no longer holds it, drop g when empty. */
  private release(g: Group, fp: string): void {
    if (!g.members.has(fp) && !g.notified.has(fp)) {
      const set = this.byFingerprint.get(fp);
      if (set) {
        set.delete(g);
        if (set.size === 0) this.byFingerprint.delete(fp);
      }
    }
    if (g.members.size === 0) {
      g.nextAt = undefined;
      if (g.notified.size === 0) this.groups.delete(g.key);
    }
  }

  private muted(route: Route, now: number): boolean {
    for (const name of route.muteTimeIntervals) if (this.timeIntervals.get(name)?.holds(now)) return true;
    if (route.activeTimeIntervals.length === 0) return false;
    for (const name of route.activeTimeIntervals) if (this.timeIntervals.get(name)?.holds(now)) return false;
    return true;
  }

  private inhibitions(): Inhibitions {
    if (this.inhibitionCache) return this.inhibitionCache;
    const firing: { fingerprint: string; labels: Record<string, string> }[] = [];
    if (this.inhibitRules.length > 0) {
      for (const s of this.store.values()) if (s.alert.status === 'firing') firing.push({ fingerprint: s.alert.fingerprint, labels: s.labels });
    }
    return (this.inhibitionCache = new Inhibitions(this.inhibitRules, firing));
  }

  private tick(g: Group, now: number, inhibitions: Inhibitions): FlushedGroup | undefined {
    const muted = this.muted(g.route, now);
    const ticked = { hasFlushed: g.hasFlushed, lastTickAt: g.lastTickAt, nextAt: g.nextAt };
    const firing: AlertTransition[] = [];
    const resolved: AlertTransition[] = [];
    const dropped: string[] = [];
    let news = false;
    for (const fp of g.members) {
      const s = this.store.get(fp)!;
      if (s.alert.status === 'resolved') {
        if (g.notified.has(fp)) resolved.push(s.alert);
        else dropped.push(fp);
      } else if (!muted && !this.silences.isSilenced(s.labels, now) && !inhibitions.isInhibited({ fingerprint: fp, labels: s.labels })) {
        firing.push(s.alert);
        if (!g.lastFiring.has(s.key)) news = true;
      }
    }
    g.hasFlushed = true;
    g.lastTickAt = now;
    g.nextAt = now + g.route.groupInterval;
    for (const fp of dropped) {
      g.members.delete(fp);
      this.changed.add(fp);
      this.release(g, fp);
    }
    if (muted) return undefined;

    let reason: FlushReason | undefined;
    if (news) reason = 'firing';
    else if (resolved.length > 0) reason = 'resolved';
    else if (firing.length > 0 && g.lastSentAt !== undefined && now - g.lastSentAt >= g.route.repeatInterval) reason = 'repeat';
    if (!reason) return undefined;

    // As the group was before this tick: an instance taking over from one that died before the
    // delivery flushes it at once.
    const before = new Map<string, GroupShare>();
    for (const a of firing.concat(resolved)) {
      const { lastTickAt, nextAt, ...share } = this.share(g, a.fingerprint);
      void lastTickAt;
      void nextAt;
      before.set(a.fingerprint, { ...share, hasFlushed: ticked.hasFlushed, ...(ticked.lastTickAt !== undefined ? { lastTickAt: ticked.lastTickAt } : {}), ...(ticked.nextAt !== undefined ? { nextAt: ticked.nextAt } : {}) });
    }
    // The group's timing is part of every member's entry.
    for (const fp of g.members) this.changed.add(fp);
    for (const fp of g.notified) this.changed.add(fp);
    g.repeat = reason === 'repeat' ? g.repeat + 1 : 0;
    g.lastSentAt = now;
    g.lastFiring = new Set(firing.map(transitionKey));
    for (const a of firing) g.notified.add(a.fingerprint);
    for (const a of resolved) {
      g.notified.delete(a.fingerprint);
      g.members.delete(a.fingerprint);
      this.release(g, a.fingerprint);
    }
    firing.sort(byStartThenFingerprint);
    resolved.sort(byStartThenFingerprint);
    const alerts = firing.concat(resolved);
    return {
      receiver: g.route.receiver,
      groupKey: g.key,
      routeId: g.route.id,
      groupLabels: { ...g.labels },
      status: firing.length > 0 ? 'firing' : 'resolved',
      severity: highestSeverity((firing.length > 0 ? firing : resolved).map((a) => a.severity)),
      alerts,
      // The labels every alert has, as they carry them (not the matching set's `rule`).
      commonLabels: common(alerts.map((a) => a.labels)),
      commonAnnotations: common(alerts.map((a) => a.annotations)),
      reason,
      repeat: g.repeat,
      flushedAt: now,
      createdAt: new Date(now).toISOString(),
      before,
    };
  }

  private gc(now: number): void {
    for (const [fp, s] of this.store) {
      if (s.alert.status === 'resolved' && s.updatedAt + this.resolvedRetention <= now && !this.byFingerprint.has(fp)) {
        this.store.delete(fp);
        this.changed.add(fp);
      }
    }
  }
}
