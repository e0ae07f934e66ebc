import { formatDuration } from '@vigil/platform';
import { eventAttribute, type EventView } from './selector.js';

/**
 * Annotation templates. A tiny replacer rather than a template engine: annotations only ever
 * substitute values, and every placeholder is checked when the rule is loaded.
 *
 *   {{value}}      the value, at most three decimals (a state's text for state rules)
 *   {{human}}      the value in its unit: 93.4 %, 850 ms, 1.2 GiB, 12/s
 *   {{percent}}    the value as a percentage (0.934 → 93.4%)
 *   {{threshold}}  the threshold crossed, in the value's unit
 *   {{unit}} {{severity}} {{rule}} {{status}} {{expr}} {{window}}
 *   {{labels.NAME}} or {{labels.[NAME]}}   a label of the alert
 *   {{event.NAME}}  of the latest record counted (event rules): body, name, severity, or an attribute
 */
export interface TemplateContext {
  value: number;
  /** The value for people when it is not a number (a state). */
  text?: string | undefined;
  unit?: string | undefined;
  threshold?: number | undefined;
  severity: string;
  rule: string;
  status: string;
  expr?: string;
  windowMs?: number;
  labels: Record<string, string>;
  event?: EventView | undefined;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const FIELDS = new Set(['value', 'human', 'percent', 'threshold', 'unit', 'severity', 'rule', 'status', 'expr', 'window']);

/** Numbers for people: at most three decimals. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Math.round(v * 1000) / 1000);
}

const round1 = (v: number) => String(Math.round(v * 10) / 10);

/** A value in its unit (UCUM as OpenTelemetry writes it), for people. */
export function humanValue(v: number, unit: string | undefined): string {
  if (!Number.isFinite(v)) return String(v);
  switch (unit) {
    case '1':
      return `${round1(v * 100)} %`;
    case '%':
      return `${round1(v)} %`;
    case 's':
      if (Math.abs(v) < 1) return `${Math.round(v * 1000)} ms`;
      if (Math.abs(v) < 60) return `${round1(v)} s`;
      return formatDuration(Math.round(v) * 1000);
    case 'ms':
      return Math.abs(v) < 1000 ? `${round1(v)} ms` : `${round1(v / 1000)} s`;
    case 'By': {
      const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
      let x = v;
      let i = 0;
      while (Math.abs(x) >= 1024 && i < units.length - 1) {
        x /= 1024;
        i++;
      }
      return `${i === 0 ? x : round1(x)} ${units[i]}`;
    }
    case undefined:
    case '':
      return formatValue(v);
  }
  if (unit.startsWith('{') && unit.endsWith('}')) return formatValue(v);
  if (unit.startsWith('/')) return `${formatValue(v)}${unit}`;
  return `${formatValue(v)} ${unit}`;
}

function labelName(path: string): string | undefined {
  if (!path.startsWith('labels.')) return undefined;
  const name = path.slice('labels.'.length);
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}

function eventField(path: string): string | undefined {
  if (!path.startsWith('event.')) return undefined;
  const name = path.slice('event.'.length);
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}

function eventValue(e: EventView | undefined, name: string): string {
  if (!e) return '';
  switch (name) {
    case 'body':
      return e.entry.body;
    case 'name':
      return e.entry.eventName;
    case 'severity':
      return e.entry.severityText;
  }
  return eventAttribute(e, name);
}

export function renderTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(PLACEHOLDER, (_m, path: string) => {
    switch (path) {
      case 'value':
        return ctx.text ?? formatValue(ctx.value);
      case 'human':
        return ctx.text ?? humanValue(ctx.value, ctx.unit);
      case 'percent':
        return `${Math.round(ctx.value * 1000) / 10}%`;
      case 'threshold':
        return ctx.threshold === undefined ? '' : humanValue(ctx.threshold, ctx.unit);
      case 'unit':
        return ctx.unit ?? '';
      case 'severity':
        return ctx.severity;
      case 'rule':
        return ctx.rule;
      case 'status':
        return ctx.status;
      case 'expr':
        return ctx.expr ?? '';
      case 'window':
        return ctx.windowMs ? formatDuration(ctx.windowMs) : '';
    }
    const label = labelName(path);
    if (label !== undefined) return ctx.labels[label] ?? '';
    const field = eventField(path);
    return field === undefined ? '' : eventValue(ctx.event, field);
  });
}

/**
 * Placeholders that would render as nothing: unknown fields, labels the alert cannot have, and
 * event fields in a rule that reads no events. `labelNames` are the labels every alert of the rule carries.
 */
export function templateProblems(text: string, labelNames: Set<string>, readsEvents = false): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const path = m[1]!;
    if (FIELDS.has(path)) continue;
    if (eventField(path) !== undefined) {
      if (!readsEvents) out.push(`{{${path}}}: the rule reads no events (event.* is for frequency, absence, state and ratio rules over events)`);
      continue;
    }
    const name = labelName(path);
    if (name === undefined) out.push(`{{${path}}} is not known (use value, human, percent, threshold, unit, severity, rule, status, expr, window, labels.NAME or event.NAME)`);
    else if (!labelNames.has(name)) out.push(`{{${path}}}: the alert has no label "${name}" (it has ${[...labelNames].join(', ')})`);
  }
  return out;
}

export function renderAnnotations(templates: Record<string, string>, ctx: TemplateContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(templates)) out[k] = renderTemplate(t, ctx);
  return out;
}
