import { createHash } from 'node:crypto';

export type AlertStatus = 'firing' | 'resolved';
export type AlertSeverity = 'info' | 'warning' | 'critical';

/**
 * One alert transition, as carried on `vigil.alerts` (JSON, keyed by fingerprint). Field names
 * follow Alertmanager's alert object where they overlap.
 */
export interface AlertTransition {
  fingerprint: string;
  status: AlertStatus;
  severity: AlertSeverity;
  /** Identity of the alert: rule name (`alertname`), group-by attributes, rule labels. */
  labels: Record<string, string>;
  /** Texts for people: summary, description. */
  annotations: Record<string, string>;
  /** RFC 3339; when this episode started firing. */
  startsAt: string;
  /** RFC 3339 when resolved; absent while firing. */
  endsAt?: string;
  /**
   * The aggregated value that caused the transition; absent when the alert carries none (a
   * message of the notify API, an alert taken from Prometheus).
   */
  value?: number;
  rule: string;
  /** Aggregation window in milliseconds. */
  window: number;
  /** Unit of `value` (UCUM, as OpenTelemetry writes it: 1 for a fraction, s, By, /s, {event}). */
  unit?: string;
  /** The threshold of the level crossed (firing transitions), so a channel can say "93.4 % (critical at 90 %)". */
  threshold?: number;
  /** What was measured: the metric and its matchers, or the event selector. */
  expr?: string;
  /** Where the alert comes from, as Alertmanager's field: the Prometheus expression page of an alert Prometheus sent. */
  generatorURL?: string;
}

/** Alertmanager-style fingerprint: a stable hash of the sorted label set. */
export function fingerprint(labels: Record<string, string>): string {
  const h = createHash('sha256');
  for (const k of Object.keys(labels).sort()) h.update(k).update('\u0000').update(labels[k]!).update('\u0001');
  return h.digest('hex').slice(0, 16);
}

/**
 * Identity of a transition: the same alert firing again later, resolving, or escalating from
 * warning to critical is a new transition; a replay of the same one is not.
 */
export function transitionKey(a: Pick<AlertTransition, 'fingerprint' | 'status' | 'severity' | 'startsAt'>): string {
  return `${a.fingerprint}:${a.startsAt}:${a.status}:${a.severity}`;
}

export function encodeAlert(a: AlertTransition): Buffer {
  return Buffer.from(JSON.stringify(a));
}

const STATUSES = new Set(['firing', 'resolved']);
const SEVERITIES = new Set(['info', 'warning', 'critical']);

/** Latest time Vigil stores (MAX_TIME_NANOS in otlp/flatten.ts says why). */
const LATEST_MS = 4_102_444_800_000;

function validTime(v: unknown): v is string {
  if (typeof v !== 'string') return false;
  const t = Date.parse(v);
  return Number.isFinite(t) && t >= 0 && t <= LATEST_MS;
}

/** A string map with every key and value a well-formed string (lone surrogates become U+FFFD); undefined when `v` is not a map of strings. */
export function wellFormedMap(v: unknown): Record<string, string> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') return undefined;
    out[k.toWellFormed()] = x.toWellFormed();
  }
  return out;
}

/** Parses a `vigil.alerts` message; throws with the reason when it is not a transition. Strings come out well-formed. */
export function decodeAlert(value: Buffer): AlertTransition {
  let a: Partial<AlertTransition>;
  try {
    a = JSON.parse(value.toString('utf8')) as Partial<AlertTransition>;
  } catch (err) {
    throw new Error(`not an alert transition: not JSON (${(err as Error).message})`);
  }
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new Error('not an alert transition: not a JSON object');
  const problems: string[] = [];
  const labels = wellFormedMap(a.labels);
  const annotations = a.annotations === undefined ? {} : wellFormedMap(a.annotations);
  if (typeof a.fingerprint !== 'string' || a.fingerprint === '') problems.push('fingerprint');
  if (!STATUSES.has(a.status as string)) problems.push('status');
  if (!SEVERITIES.has(a.severity as string)) problems.push('severity');
  if (!validTime(a.startsAt)) problems.push('startsAt');
  if (a.endsAt !== undefined && !validTime(a.endsAt)) problems.push('endsAt');
  if (typeof a.rule !== 'string') problems.push('rule');
  if (!labels) problems.push('labels');
  if (!annotations) problems.push('annotations');
  if (problems.length > 0) throw new Error(`not an alert transition: missing or invalid ${problems.join(', ')}`);
  const value_ = typeof a.value === 'number' ? a.value : a.value === undefined || a.value === null ? undefined : Number(a.value);
  return {
    fingerprint: a.fingerprint!.toWellFormed(),
    status: a.status!,
    severity: a.severity!,
    labels: labels!,
    annotations: annotations!,
    startsAt: a.startsAt!,
    ...(a.endsAt ? { endsAt: a.endsAt } : {}),
    ...(value_ !== undefined ? { value: Number.isFinite(value_) ? value_ : 0 } : {}),
    rule: a.rule!.toWellFormed(),
    // Whole milliseconds a UInt64 column takes as written (1e21 would be sent as `1e+21`).
    window: typeof a.window === 'number' && a.window >= 0 && a.window <= Number.MAX_SAFE_INTEGER ? Math.round(a.window) : 0,
    ...(typeof a.unit === 'string' && a.unit !== '' ? { unit: a.unit.toWellFormed() } : {}),
    ...(typeof a.threshold === 'number' && Number.isFinite(a.threshold) ? { threshold: a.threshold } : {}),
    ...(typeof a.expr === 'string' && a.expr !== '' ? { expr: a.expr.toWellFormed() } : {}),
    ...(typeof a.generatorURL === 'string' && a.generatorURL !== '' ? { generatorURL: a.generatorURL.toWellFormed() } : {}),
  };
}
