import Handlebars from 'handlebars';
import { ConfigError, formatDuration, type AlertTransition } from '@vigil/platform';

/**
 * Notification texts: handlebars templates over an alert transition, rendered to plain text
 * (no HTML escaping: the output goes to terminals, JSON bodies and chat messages).
 *
 * Templates see every transition field (status, severity, labels, annotations, startsAt,
 * endsAt, value, rule, window, fingerprint) plus a few derived ones, see `TemplateView`.
 * Labels are read as `{{labels.host.name}}`, dots and all.
 */

/** What a template sees. */
export interface TemplateView extends AlertTransition {
  /** `labels.alertname`, else the rule name. */
  name: string;
  /** What the alert is about (host, service or instance), '' when the labels do not say. */
  target: string;
  firing: boolean;
  resolved: boolean;
  /** True when `value` is a 0..1 fraction best shown as a percentage (see `isFraction`). */
  fraction: boolean;
}

export const DEFAULT_TITLE = '{{#if firing}}[FIRING:{{upper severity}}]{{else}}[RESOLVED]{{/if}} {{name}}{{#if target}} on {{target}}{{/if}}';

export const DEFAULT_BODY = [
  '{{#if annotations.summary}}{{annotations.summary}}\n{{/if}}',
  '{{#if annotations.description}}{{annotations.description}}\n{{/if}}',
  'Value: {{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{#if window}} over {{duration window}}{{/if}}',
  '{{#if firing}}{{#if threshold}} ({{severity}} at {{#if fraction}}{{percent threshold}}{{else}}{{number threshold}}{{/if}}){{/if}}{{/if}}\n',
  'Severity: {{severity}}\n',
  'Labels:{{#each labels}} {{@key}}={{this}}{{/each}}\n',
  'Started: {{time startsAt}}',
  '{{#if resolved}}\nResolved: {{time endsAt}} (lasted {{duration startsAt endsAt}}){{/if}}',
].join('');

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
  return {
    ...alert,
    labels,
    name: alert.labels.alertname || alert.rule,
    target,
    firing: alert.status === 'firing',
    resolved: alert.status === 'resolved',
    fraction: isFraction(alert),
  };
}

// ---- compile and render ----

type Template = (view: TemplateView) => string;

export interface CompiledTemplates {
  title: Template;
  body: Template;
}

export interface Rendered {
  title: string;
  text: string;
}

const hb = Handlebars.create();
for (const [name, fn] of Object.entries(HELPERS)) {
  // Handlebars passes its options object last; the helpers take only the template's arguments.
  hb.registerHelper(name, (...args: unknown[]) => (fn as (...a: unknown[]) => string)(...args.slice(0, -1)));
}

const COMPILE_OPTIONS = {
  noEscape: true,
  // A misspelt helper (`{{uper status}}`) is a compile error instead of an empty string.
  knownHelpers: Object.fromEntries(Object.keys(HELPERS).map((h) => [h, true])),
  knownHelpersOnly: true,
} as const;

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

const SAMPLE_FIRING: AlertTransition = {
  fingerprint: '0123456789abcdef',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'cpu_high', 'host.name': 'web-1' },
  annotations: { summary: 'CPU is high', description: 'CPU above 90%' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 0.93,
  rule: 'cpu_high',
  window: 60_000,
};
const SAMPLE_RESOLVED: AlertTransition = { ...SAMPLE_FIRING, status: 'resolved', endsAt: '2024-05-01T12:05:30.000Z', value: 0.41 };

/**
 * Compiles the title and body (the defaults where `overrides` has none). A template that does
 * not compile or fails on a sample transition is a `ConfigError` naming the key, so it stops
 * the start instead of the first notification.
 */
export function compileTemplates(overrides: { title?: string | undefined; body?: string | undefined } = {}, source = 'notifier.templates'): CompiledTemplates {
  const problems: string[] = [];
  const compile = (key: 'title' | 'body', text: string): Template => {
    try {
      const ast = dottedLabelNames(hb.parse(text));
      hb.precompile(ast, COMPILE_OPTIONS);
      const t = hb.compile<TemplateView>(ast, COMPILE_OPTIONS);
      // compile() is lazy; rendering samples surfaces what only shows at run time (missing partials).
      t(templateView(SAMPLE_FIRING));
      t(templateView(SAMPLE_RESOLVED));
      return t;
    } catch (err) {
      const reason = (err as Error).message.replace(/\s*\n\s*/g, ' ');
      problems.push(`${source}.${key}: the handlebars template does not compile: ${reason} (helpers: ${Object.keys(HELPERS).join(', ')})`);
      return () => '';
    }
  };
  const compiled = {
    title: compile('title', overrides.title ?? DEFAULT_TITLE),
    body: compile('body', overrides.body ?? DEFAULT_BODY),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return compiled;
}

let defaults: CompiledTemplates | undefined;

/** Title and text of a transition. The title is one line: line breaks from labels or templates become spaces. */
export function renderNotification(alert: AlertTransition, templates: CompiledTemplates = (defaults ??= compileTemplates())): Rendered {
  const view = templateView(alert);
  return {
    title: templates.title(view).replace(/\s*[\r\n]+\s*/g, ' ').trim(),
    text: templates.body(view).trimEnd(),
  };
}
