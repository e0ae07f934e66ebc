import { formatDuration, type AlertTransition } from '@vigil/platform';

/**
 * What templates see of one alert (`templateView`: the transition plus name, target, fraction,
 * ...), and the helpers every template has: total functions over plain values.
 */

/** What a template sees of one alert. */
export interface TemplateView extends AlertTransition {
  /** `labels.alertname`, else the rule name. */
  name: string;
  /** What the alert is about (host, service or instance), '' when the labels do not say. */
  target: string;
  firing: boolean;
  resolved: boolean;
  /** True when `value` is a 0..1 fraction best shown as a percentage (see `isFraction`). */
  fraction: boolean;
  /** The alert carries a measured value (rule alerts; not a message of the notify API or an alert from Prometheus). */
  hasValue: boolean;
  /** ` on <target>` for titles, '' when there is no target or the name already says it. */
  onTarget: string;
}

/** ` on web-1` after `text`, unless there is no target or `text` already names it ("Client pos-17 silent" needs no " on pos-17"). */
export function onTarget(text: string, target: string): string {
  return target === '' || text.includes(target) ? '' : ` on ${target}`;
}

// ---- helpers: total functions (they never throw), so a template cannot fail on odd values ----

export function upper(v: unknown): string {
  return String(v ?? '').toUpperCase();
}

/** 0.873 → `87.3%`. */
export function percent(v: unknown): string {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return String(v);
  return `${Number((n * 100).toFixed(1))}%`;
}

/** A number for people: at most three decimals, three significant digits below 1. */
export function number(v: unknown): string {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) return String(v);
  if (n !== 0 && Math.abs(n) < 1) return String(Number(n.toPrecision(3)));
  return String(Number(n.toFixed(3)));
}

/** RFC 3339 → `2024-05-01 12:34:56 UTC`; anything else is shown as it is. */
export function time(v: unknown): string {
  if (typeof v !== 'string' && typeof v !== 'number') return '';
  const ms = typeof v === 'number' ? v : Date.parse(v);
  if (!Number.isFinite(ms)) return String(v);
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * `{{duration window}}` for milliseconds, `{{duration startsAt endsAt}}` for the time between two
 * RFC 3339 instants. Written like config durations (`1h5m30s`), whole seconds from 1s up.
 */
export function duration(a: unknown, b?: unknown): string {
  let ms: number;
  if (b === undefined) ms = typeof a === 'number' ? a : Number(a);
  else ms = Date.parse(String(b)) - Date.parse(String(a));
  if (!Number.isFinite(ms) || ms < 0) return '';
  return formatDuration(ms >= 1000 ? Math.round(ms / 1000) * 1000 : Math.round(ms));
}

export const HELPERS = { upper, percent, number, time, duration } as const;

/**
 * Whether the value is a utilisation fraction (0..1): the transition's `unit` is `1`; without a
 * unit (older transitions), the `metric` and `unit` labels or the rule name say so.
 */
export function isFraction(alert: Pick<AlertTransition, 'labels' | 'rule' | 'unit'>): boolean {
  if (alert.unit !== undefined) return alert.unit === '1';
  const metric = alert.labels.metric ?? '';
  return alert.labels.unit === '1' || /\.utili[sz]ation$/.test(metric) || /utili[sz]ation/.test(alert.rule);
}

const TARGET_LABELS = ['host.name', 'service.instance.id', 'service.name', 'instance', 'host'];

export function templateView(alert: AlertTransition): TemplateView {
  const labels: Record<string, string> = {};
  for (const k of Object.keys(alert.labels).sort()) labels[k] = alert.labels[k]!;
  const target = TARGET_LABELS.map((l) => alert.labels[l]).find((v) => v !== undefined && v !== '') ?? '';
  const name = alert.labels.alertname || alert.rule;
  return {
    ...alert,
    labels,
    name,
    target,
    onTarget: onTarget(name, target),
    firing: alert.status === 'firing',
    resolved: alert.status === 'resolved',
    fraction: isFraction(alert),
    hasValue: alert.value !== undefined,
  };
}

/**
 * OpenTelemetry label names have dots (`host.name`). Handlebars reads `{{labels.host.name}}` as
 * labels → host → name; this rewrites such paths to the label `host.name`, as rule annotations
 * read them, so one spelling works in both places. `{{labels.[host.name]}}` works as well.
 */
export function dottedLabelNames<T>(node: T): T {
  if (Array.isArray(node)) node.forEach(dottedLabelNames);
  else if (node !== null && typeof node === 'object') {
    const n = node as { type?: string; data?: boolean; depth?: number; parts?: string[] };
    if (n.type === 'PathExpression' && !n.data && n.depth === 0 && n.parts && n.parts[0] === 'labels' && n.parts.length > 2) {
      n.parts = ['labels', n.parts.slice(1).join('.')];
    }
    for (const [k, v] of Object.entries(node)) if (k !== 'loc') dottedLabelNames(v);
  }
  return node;
}
