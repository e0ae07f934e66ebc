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
  /** The aggregated value that caused the transition. */
  value: number;
  rule: string;
  /** Aggregation window in milliseconds. */
  window: number;
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

/** Parses a `vigil.alerts` message; throws with the reason when it is not a transition. */
export function decodeAlert(value: Buffer): AlertTransition {
  const a = JSON.parse(value.toString('utf8')) as Partial<AlertTransition>;
  const problems: string[] = [];
  if (typeof a.fingerprint !== 'string' || a.fingerprint === '') problems.push('fingerprint');
  if (!STATUSES.has(a.status as string)) problems.push('status');
  if (!SEVERITIES.has(a.severity as string)) problems.push('severity');
  if (typeof a.startsAt !== 'string' || Number.isNaN(Date.parse(a.startsAt))) problems.push('startsAt');
  if (a.endsAt !== undefined && (typeof a.endsAt !== 'string' || Number.isNaN(Date.parse(a.endsAt)))) problems.push('endsAt');
  if (typeof a.rule !== 'string') problems.push('rule');
  if (typeof a.labels !== 'object' || a.labels === null) problems.push('labels');
  if (problems.length > 0) throw new Error(`not an alert transition: missing or invalid ${problems.join(', ')}`);
  return {
    fingerprint: a.fingerprint!,
    status: a.status!,
    severity: a.severity!,
    labels: a.labels!,
    annotations: a.annotations ?? {},
    startsAt: a.startsAt!,
    ...(a.endsAt ? { endsAt: a.endsAt } : {}),
    value: typeof a.value === 'number' ? a.value : Number(a.value ?? 0),
    rule: a.rule!,
    window: typeof a.window === 'number' ? a.window : 0,
  };
}
