/**
 * Annotation templates: `{{value}}`, `{{percent}}`, `{{severity}}`, `{{rule}}`, `{{status}}` and
 * `{{labels.NAME}}` (or `{{labels.[NAME]}}`, Handlebars' form for names with dots). A tiny
 * replacer rather than a template engine: annotations only ever substitute values, and every
 * placeholder can be checked when the rule is loaded.
 */
export interface TemplateContext {
  value: number;
  severity: string;
  rule: string;
  status: string;
  labels: Record<string, string>;
}

const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;
const FIELDS = new Set(['value', 'percent', 'severity', 'rule', 'status']);

/** Numbers for people: at most three decimals. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Math.round(v * 1000) / 1000);
}

function labelName(path: string): string | undefined {
  if (!path.startsWith('labels.')) return undefined;
  const name = path.slice('labels.'.length);
  return name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
}

export function renderTemplate(text: string, ctx: TemplateContext): string {
  return text.replace(PLACEHOLDER, (_m, path: string) => {
    switch (path) {
      case 'value':
        return formatValue(ctx.value);
      case 'percent':
        return `${Math.round(ctx.value * 1000) / 10}%`;
      case 'severity':
        return ctx.severity;
      case 'rule':
        return ctx.rule;
      case 'status':
        return ctx.status;
    }
    const name = labelName(path);
    return name === undefined ? '' : (ctx.labels[name] ?? '');
  });
}

/**
 * Placeholders that would render as nothing: unknown fields, and labels the alert cannot have.
 * `labelNames` are the labels every alert of the rule carries.
 */
export function templateProblems(text: string, labelNames: Set<string>): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(PLACEHOLDER)) {
    const path = m[1]!;
    if (FIELDS.has(path)) continue;
    const name = labelName(path);
    if (name === undefined) out.push(`{{${path}}} is not known (use value, percent, severity, rule, status or labels.NAME)`);
    else if (!labelNames.has(name)) out.push(`{{${path}}}: the alert has no label "${name}" (it has ${[...labelNames].join(', ')})`);
  }
  return out;
}

export function renderAnnotations(templates: Record<string, string>, ctx: TemplateContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, t] of Object.entries(templates)) out[k] = renderTemplate(t, ctx);
  return out;
}
