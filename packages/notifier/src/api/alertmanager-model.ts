import { fingerprint, prometheusLabels, type AlertSeverity, type AlertTransition } from '@vigil/platform';
import type { AlertView } from '../routing/dispatcher.js';
import { parseMatcher } from '../routing/matchers.js';
import type { Silence, SilenceState } from '../routing/silences.js';

/**
 * Alertmanager's API version 2 objects, and Vigil's alerts and silences in their shape: pure, so
 * every mapping is tested without a server. The HTTP side is `alertmanager.ts`.
 *
 * Alerts posted by Prometheus (`postableAlert`) become transitions of the rule `prometheus` on
 * the alerts topic, so they are routed, grouped, silenced, stored and paged like Vigil's own.
 * Prometheus sends every firing alert again each resend interval with `endsAt` a few intervals
 * ahead, and a resolved one with `endsAt` in the past; an alert whose `endsAt` passes without a
 * resend is resolved (Alertmanager's timeout), and one sent without `endsAt` times out after
 * `resolveTimeout`, as Alertmanager's `resolve_timeout`.
 */

/** Rule name of the transitions made from posted alerts (never restored or resolved by a rules worker). */
export const PROMETHEUS_RULE = 'prometheus';

/** Alertmanager's default `resolve_timeout`. */
export const DEFAULT_RESOLVE_TIMEOUT_MS = 5 * 60_000;

export interface PostableAlert {
  labels: Record<string, string>;
  annotations?: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

/**
 * The level of a posted alert from its `severity` label, by the names alerting rules use in the
 * wild: critical (also page, high, error, emergency, alert), info (also low, none, informational,
 * notice, debug), warning for the rest and when there is none.
 */
export function severityOfLabel(value: string | undefined): AlertSeverity {
  const v = (value ?? '').trim().toLowerCase();
  if (['critical', 'crit', 'page', 'high', 'error', 'err', 'emergency', 'emerg', 'alert', 'fatal', 'p1', 'sev1'].includes(v)) return 'critical';
  if (['info', 'informational', 'low', 'none', 'notice', 'debug', 'p4', 'p5'].includes(v)) return 'info';
  return 'warning';
}

function time(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const t = Date.parse(v);
  // Go's zero time (0001-01-01T00:00:00Z), which Prometheus's clients send for "unset", is unset.
  return Number.isFinite(t) && t > 0 ? t : undefined;
}

/** A posted alert whose fields cannot be used: the message names the field (`[2].labels`). */
export class PostedAlertError extends Error {}

/** Checks one posted alert; `at` is its index in the body. */
export function checkPostable(a: PostableAlert, at: number): void {
  const names = Object.keys(a.labels);
  if (names.length === 0) throw new PostedAlertError(`[${at}].labels: at least one label is required (alertname, ...)`);
  for (const n of names) if (n === '') throw new PostedAlertError(`[${at}].labels: a label name is empty`);
  for (const f of ['startsAt', 'endsAt'] as const) {
    const v = a[f];
    if (v !== undefined && v !== '' && !Number.isFinite(Date.parse(v))) throw new PostedAlertError(`[${at}].${f}: ${JSON.stringify(v)} is not an RFC 3339 time`);
  }
  const s = time(a.startsAt);
  const e = time(a.endsAt);
  if (s !== undefined && e !== undefined && e < s) throw new PostedAlertError(`[${at}].endsAt: ${a.endsAt} is before startsAt ${a.startsAt}`);
}

/** What a posted alert is now: a transition, and until when it holds without a resend (firing ones). */
export interface Taken {
  transition: AlertTransition;
  /** Firing: when it times out unless sent again. */
  expiresAt?: number;
}

/** One posted alert as a transition of the rule `prometheus` at `now`. */
export function transitionOfPosted(a: PostableAlert, now: number, resolveTimeoutMs = DEFAULT_RESOLVE_TIMEOUT_MS): Taken {
  const labels = { ...a.labels };
  const severity = severityOfLabel(labels.severity);
  const startsAt = time(a.startsAt) ?? now;
  const endsAt = time(a.endsAt);
  const resolved = endsAt !== undefined && endsAt <= now;
  const transition: AlertTransition = {
    fingerprint: fingerprint(labels),
    status: resolved ? 'resolved' : 'firing',
    severity,
    labels,
    annotations: { ...(a.annotations ?? {}) },
    startsAt: new Date(Math.min(startsAt, resolved ? endsAt : startsAt)).toISOString(),
    ...(resolved ? { endsAt: new Date(endsAt).toISOString() } : {}),
    rule: PROMETHEUS_RULE,
    window: 0,
    ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
  };
  return resolved ? { transition } : { transition, expiresAt: endsAt ?? now + resolveTimeoutMs };
}

/**
 * The posted alerts that are firing and when each times out. Sending one again moves its
 * timeout; `expire` hands back the resolves of those whose time passed. Seeded at start from the
 * notifier's restored alerts, so a timeout survives a restart.
 */
export class PostedAlerts {
  private readonly firing = new Map<string, { transition: AlertTransition; expiresAt: number }>();

  constructor(private readonly resolveTimeoutMs = DEFAULT_RESOLVE_TIMEOUT_MS) {}

  /** Takes the alerts of one POST; returns the transitions to publish (resends included: consumers take a replay as a no-op). */
  take(alerts: readonly PostableAlert[], now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    for (const a of alerts) {
      const t = transitionOfPosted(a, now, this.resolveTimeoutMs);
      const fp = t.transition.fingerprint;
      if (t.expiresAt !== undefined) {
        // A resend keeps the episode's start as first seen (Prometheus keeps it too; a client that does not must not open a new episode).
        const known = this.firing.get(fp);
        if (known && known.transition.startsAt < t.transition.startsAt) t.transition.startsAt = known.transition.startsAt;
        this.firing.set(fp, { transition: t.transition, expiresAt: t.expiresAt });
      } else this.firing.delete(fp);
      out.push(t.transition);
    }
    return out;
  }

  /** Firing alerts of the rule `prometheus` the notifier already had (restored), timing out `resolveTimeout` from `now` unless sent again. */
  seed(alerts: readonly AlertTransition[], now: number): void {
    for (const a of alerts) {
      if (a.rule !== PROMETHEUS_RULE || a.status !== 'firing' || this.firing.has(a.fingerprint)) continue;
      this.firing.set(a.fingerprint, { transition: a, expiresAt: now + this.resolveTimeoutMs });
    }
  }

  /** The resolves of alerts whose timeout passed by `now`, each ending at its timeout. */
  expire(now: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    for (const [fp, f] of this.firing) {
      if (f.expiresAt > now) continue;
      this.firing.delete(fp);
      out.push({ ...f.transition, status: 'resolved', endsAt: new Date(f.expiresAt).toISOString() });
    }
    return out;
  }

  /** Resolves `expire` handed back that could not be published: they are due again at the next round. */
  putBack(resolves: readonly AlertTransition[]): void {
    for (const r of resolves) {
      if (this.firing.has(r.fingerprint)) continue;
      const { endsAt, ...firing } = r;
      this.firing.set(r.fingerprint, { transition: { ...firing, status: 'firing' }, expiresAt: Date.parse(endsAt!) });
    }
  }

  /** When a firing posted alert times out; undefined for other alerts. */
  expiresAt(fp: string): number | undefined {
    return this.firing.get(fp)?.expiresAt;
  }

  get size(): number {
    return this.firing.size;
  }
}

export interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  receivers: { name: string }[];
  fingerprint: string;
  startsAt: string;
  updatedAt: string;
  endsAt: string;
  generatorURL?: string;
  status: { state: 'active' | 'suppressed' | 'unprocessed'; silencedBy: string[]; inhibitedBy: string[]; mutedBy: string[] };
}

/**
 * A firing alert as `GET /api/v2/alerts` shows it: Prometheus-safe label names (`host_name`),
 * `severity` among the labels, suppressed when silenced or inhibited. `endsAt` is when it times
 * out: a posted alert's own, else `resolveTimeout` after its last change (what Alertmanager shows
 * for an alert sent without one).
 */
export function gettableAlert(v: AlertView, opts: { expiresAt?: number; resolveTimeoutMs?: number; generatorURL?: string }): GettableAlert {
  const a = v.alert;
  const suppressed = v.silencedBy.length > 0 || v.inhibitedBy.length > 0;
  return {
    labels: prometheusLabels({ ...a.labels, severity: a.severity }),
    annotations: { ...a.annotations },
    receivers: v.receivers.map((name) => ({ name })),
    fingerprint: a.fingerprint,
    startsAt: a.startsAt,
    updatedAt: new Date(v.updatedAt).toISOString(),
    endsAt: new Date(opts.expiresAt ?? v.updatedAt + (opts.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS)).toISOString(),
    ...((a.generatorURL ?? opts.generatorURL) ? { generatorURL: a.generatorURL ?? opts.generatorURL } : {}),
    status: { state: suppressed ? 'suppressed' : 'active', silencedBy: v.silencedBy, inhibitedBy: v.inhibitedBy, mutedBy: [] },
  };
}

/** Alertmanager's structured matcher, as amtool and Grafana send and read it. */
export interface ApiMatcher {
  name: string;
  value: string;
  isRegex: boolean;
  isEqual?: boolean;
}

/** A structured matcher as matcher text (`name!~"re"`), which silences keep. */
export function matcherText(m: ApiMatcher): string {
  const op = m.isRegex ? (m.isEqual === false ? '!~' : '=~') : m.isEqual === false ? '!=' : '=';
  const name = /^[A-Za-z_][A-Za-z0-9_.:-]*$/.test(m.name) ? m.name : JSON.stringify(m.name);
  return `${name}${op}${JSON.stringify(m.value)}`;
}

/** Matcher text as a structured matcher. */
export function apiMatcher(text: string): ApiMatcher {
  const m = parseMatcher(text);
  return { name: m.name, value: m.value, isRegex: m.op === '=~' || m.op === '!~', isEqual: m.op === '=' || m.op === '=~' };
}

export interface GettableSilence {
  id: string;
  status: { state: SilenceState };
  updatedAt: string;
  matchers: ApiMatcher[];
  startsAt: string;
  endsAt: string;
  createdBy: string;
  comment: string;
}

export function gettableSilence(s: Silence & { state: SilenceState }): GettableSilence {
  return {
    id: s.id,
    status: { state: s.state },
    updatedAt: s.updatedAt,
    matchers: s.matchers.map(apiMatcher),
    startsAt: s.startsAt,
    endsAt: s.endsAt,
    createdBy: s.createdBy,
    comment: s.comment,
  };
}

/** Which alerts `GET /api/v2/alerts` returns: Alertmanager's query parameters. */
export interface AlertFilter {
  active: boolean;
  silenced: boolean;
  inhibited: boolean;
  /** Matchers on the labels as shown (Prometheus-safe names). */
  filter: readonly string[];
  /** A regex the name of one of the alert's receivers matches, whole. */
  receiver?: string;
}

/** A predicate over gettable alerts; throws a MatcherError for a filter or receiver that does not parse. */
export function alertFilter(f: AlertFilter): (a: GettableAlert) => boolean {
  const matchers = f.filter.map((t) => parseMatcher(t));
  let receiver: RegExp | undefined;
  if (f.receiver !== undefined && f.receiver !== '') {
    try {
      receiver = new RegExp(`^(?:${f.receiver})$`);
    } catch (e) {
      throw new PostedAlertError(`receiver: ${JSON.stringify(f.receiver)} is not a valid regex (${(e as Error).message})`);
    }
  }
  return (a) => {
    const silenced = a.status.silencedBy.length > 0;
    const inhibited = a.status.inhibitedBy.length > 0;
    if (!f.silenced && silenced) return false;
    if (!f.inhibited && inhibited) return false;
    if (!f.active && !silenced && !inhibited) return false;
    if (receiver && !a.receivers.some((r) => receiver.test(r.name))) return false;
    return matchers.every((m) => m.matches(a.labels));
  };
}
