import Handlebars from 'handlebars';
import { ConfigError, type AlertSeverity, type AlertTransition } from '@vigil/platform';
import { HELPERS, dottedLabelNames, onTarget, templateView, type TemplateView } from '../../templates/templates.js';

/**
 * The GitHub issue of an alert: title and Markdown body from handlebars templates, the labels,
 * and the hidden markers by which Vigil finds its issues and its own comments again.
 */

/** What the issue templates see: the notifier's `TemplateView` plus the error-tracking fields. */
export interface IssueView extends TemplateView {
  /** `vigil.category` (database, cache, application, ...), else `exception.type`, else the alert name. */
  type: string;
  category: string;
  host: string;
  container: string;
  /** `summary` annotation, else `message` label or annotation, else `description`. */
  message: string;
  /** The `description` annotation when it is not already the message. */
  details: string;
  /** `exception.stacktrace` annotation or label. */
  traceback: string;
  /** Request context: `http.*`, `url.*`, `request.*`, `client.address`, `user_agent.original`. */
  request: { key: string; value: string }[];
  /** User context: `enduser.*`, `user.*`, `session.id`. */
  user: { key: string; value: string }[];
  /** Recommended actions: the `actions` (or `recommended_actions`) annotation, one per line. */
  actions: string[];
  runbook: string;
  /** `notifier.externalUrl`, '' when not set. */
  externalUrl: string;
}

/** `onTarget` here is ` on <target>` unless the message (or the name) already says where. */
export const GITHUB_TITLE = '[{{upper severity}}] {{type}}: {{#if message}}{{message}}{{else}}{{name}}{{/if}}{{onTarget}}';

export const GITHUB_BODY = [
  '## {{type}}{{#if message}}: {{cell message}}{{/if}}\n\n',
  '| | |\n|---|---|\n',
  '| Severity | **{{severity}}** |\n',
  '| Alert | `{{cell name}}` (rule `{{cell rule}}`) |\n',
  '| Time | {{time startsAt}} |\n',
  '{{#if host}}| Host | `{{cell host}}` |\n{{/if}}',
  '{{#if container}}| Container | `{{cell container}}` |\n{{/if}}',
  '{{#if category}}| Category | {{cell category}} |\n{{/if}}',
  '{{#if hasValue}}| Value | {{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{#if window}} over {{duration window}}{{/if}} |\n{{/if}}',
  '\n',
  '{{#if details}}### Details\n\n{{details}}\n\n{{/if}}',
  '{{#if traceback}}### Traceback\n\n{{code traceback}}\n\n{{/if}}',
  '{{#if request.length}}### Request\n\n{{#each request}}- `{{key}}`: {{cell value}}\n{{/each}}\n{{/if}}',
  '{{#if user.length}}### User\n\n{{#each user}}- `{{key}}`: {{cell value}}\n{{/each}}\n{{/if}}',
  '{{#if actions.length}}### Recommended actions\n\n{{#each actions}}- [ ] {{this}}\n{{/each}}\n{{/if}}',
  '{{#if runbook}}Runbook: {{runbook}}\n\n{{/if}}',
  '<details><summary>Labels</summary>\n\n{{#each labels}}- `{{@key}}`: {{cell this}}\n{{/each}}\n</details>\n',
  '{{#if externalUrl}}\n[Open in Vigil]({{externalUrl}})\n{{/if}}',
].join('');

// ---- view ----

const REQUEST_KEY = /^(http\.|url\.|request\.|client\.address$|user_agent\.original$)/;
const USER_KEY = /^(enduser\.|user\.|session\.id$)/;

function pick(alert: AlertTransition, keys: string[]): string {
  for (const k of keys) {
    const v = alert.annotations[k] ?? alert.labels[k];
    if (v !== undefined && v !== '') return v;
  }
  return '';
}

function context(alert: AlertTransition, key: RegExp): { key: string; value: string }[] {
  const out = new Map<string, string>();
  // Annotations first: they may carry the whole request of one occurrence; labels only the grouped part.
  for (const src of [alert.annotations, alert.labels]) {
    for (const k of Object.keys(src).sort()) if (key.test(k) && !out.has(k)) out.set(k, src[k]!);
  }
  return [...out].map(([k, value]) => ({ key: k, value }));
}

export function issueView(alert: AlertTransition, externalUrl = ''): IssueView {
  const base = templateView(alert);
  const category = pick(alert, ['vigil.category', 'category']);
  const message = pick(alert, ['summary', 'message', 'exception.message', 'description']);
  const description = alert.annotations.description ?? '';
  const actionsText = alert.annotations.actions ?? alert.annotations.recommended_actions ?? '';
  return {
    ...base,
    type: category || pick(alert, ['exception.type']) || base.name,
    category,
    host: pick(alert, ['host.name', 'host']),
    container: pick(alert, ['container.name', 'k8s.container.name', 'container']),
    message,
    onTarget: onTarget(message || base.name, base.target),
    details: description !== message ? description : '',
    traceback: pick(alert, ['exception.stacktrace']),
    request: context(alert, REQUEST_KEY),
    user: context(alert, USER_KEY),
    actions: actionsText
      .split('\n')
      .map((l) => l.replace(/^\s*(?:[-*]|\d+[.)])\s*/, '').trim())
      .filter((l) => l !== ''),
    runbook: pick(alert, ['runbook_url', 'runbook']),
    externalUrl,
  };
}

// ---- helpers beyond the notifier's ----

/** A value inside a Markdown table cell or list item: one line, pipes escaped. */
export function cell(v: unknown): string {
  return String(v ?? '')
    .replace(/\r?\n/g, ' ')
    .replace(/\|/g, '\\|');
}

/** A fenced code block whose fence is longer than any backtick run inside, so a traceback cannot end it. */
export function code(v: unknown): string {
  const text = String(v ?? '').replace(/\s+$/, '');
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${text}\n${fence}`;
}

const GITHUB_HELPERS = { ...HELPERS, cell, code } as Record<string, (...a: unknown[]) => string>;

const hb = Handlebars.create();
for (const [name, fn] of Object.entries(GITHUB_HELPERS)) {
  hb.registerHelper(name, (...args: unknown[]) => fn(...args.slice(0, -1)));
}
const COMPILE_OPTIONS = {
  noEscape: true,
  knownHelpers: Object.fromEntries(Object.keys(GITHUB_HELPERS).map((h) => [h, true])),
  knownHelpersOnly: true,
} as const;

type Template = (view: IssueView) => string;


export interface IssueTemplates {
  title: Template;
  body: Template;
}

const SAMPLE: AlertTransition = {
  fingerprint: '0123456789abcdef',
  status: 'firing',
  severity: 'critical',
  labels: { alertname: 'db_errors', 'host.name': 'web-1', 'container.name': 'api', 'vigil.category': 'database' },
  annotations: { summary: 'connection refused', 'exception.stacktrace': 'Error: connect ECONNREFUSED\n    at f (a.js:1:1)', actions: '- check the database' },
  startsAt: '2024-05-01T12:00:00.000Z',
  value: 3,
  rule: 'db_errors',
  window: 60_000,
};

/**
 * Compiles the title and body templates (the defaults where not overridden). A template that
 * does not compile or fails on a sample alert is a ConfigError naming `<at>.titleTemplate` or
 * `<at>.bodyTemplate`.
 */
export function compileIssueTemplates(overrides: { titleTemplate?: string | undefined; bodyTemplate?: string | undefined }, at: string): IssueTemplates {
  const problems: string[] = [];
  const compile = (key: 'titleTemplate' | 'bodyTemplate', text: string): Template => {
    try {
      const t = hb.compile<IssueView>(dottedLabelNames(hb.parse(text)), COMPILE_OPTIONS);
      // compile() is lazy: render once so errors show at start, not at the first alert.
      t(issueView(SAMPLE));
      return t;
    } catch (err) {
      problems.push(`${at}.${key}: the handlebars template does not compile: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')} (helpers: ${Object.keys(GITHUB_HELPERS).join(', ')})`);
      return () => '';
    }
  };
  const templates = { title: compile('titleTemplate', overrides.titleTemplate ?? GITHUB_TITLE), body: compile('bodyTemplate', overrides.bodyTemplate ?? GITHUB_BODY) };
  if (problems.length > 0) throw new ConfigError(problems);
  return templates;
}

// ---- markers and labels ----

/** GitHub's limits: a title of 256 characters, a body or comment of 65536, a label name of 50. */
const TITLE_MAX = 256;
const BODY_MAX = 65_536;
const LABEL_MAX = 50;

/** The label by which Vigil finds the issue of a fingerprint: exact, indexed, consistent (unlike search). */
export function fingerprintLabel(fingerprint: string): string {
  return `vigil:${fingerprint}`.slice(0, LABEL_MAX);
}

/** Hidden in the issue body: the fingerprint, for people and for search (`"vigil:fingerprint=…" in:body`). */
export function issueMarker(alert: Pick<AlertTransition, 'fingerprint' | 'startsAt' | 'severity'>): string {
  return `<!-- vigil:fingerprint=${alert.fingerprint} startsAt=${alert.startsAt} severity=${alert.severity} -->`;
}

export type NoteEvent = 'recurrence' | 'resolved' | 'regression';

/** Hidden in Vigil's comments: which transition a comment reports, so a restart knows what was said last. */
export function noteMarker(event: NoteEvent, alert: Pick<AlertTransition, 'fingerprint' | 'startsAt' | 'severity'>): string {
  return `<!-- vigil:event=${event} fingerprint=${alert.fingerprint} startsAt=${alert.startsAt} severity=${alert.severity} -->`;
}

export interface ParsedNote {
  event: 'created' | NoteEvent;
  startsAt: string;
  severity: AlertSeverity;
}

const SEVERITIES: readonly string[] = ['info', 'warning', 'critical'];

/** Reads a marker written by `issueMarker` or `noteMarker`; undefined for any other text. */
export function parseNote(body: string, fingerprint: string): ParsedNote | undefined {
  const m = /<!-- vigil:(?:event=(recurrence|resolved|regression) )?fingerprint=(\S+) startsAt=(\S+) severity=(\S+) -->/.exec(body);
  if (!m || m[2] !== fingerprint || !SEVERITIES.includes(m[4]!)) return undefined;
  return { event: (m[1] as NoteEvent | undefined) ?? 'created', startsAt: m[3]!, severity: m[4] as AlertSeverity };
}

function labelName(prefix: string, value: string): string {
  // A comma would split the label in `?labels=` filters.
  return `${prefix}${value.replace(/,/g, ' ')}`.slice(0, LABEL_MAX);
}

/** severity:, category:, host:, container:, the fingerprint label, then the configured extras; no duplicates. */
export function issueLabels(view: Pick<IssueView, 'severity' | 'category' | 'host' | 'container' | 'fingerprint'>, extra: readonly string[]): string[] {
  const labels = [labelName('severity:', view.severity)];
  if (view.category) labels.push(labelName('category:', view.category));
  if (view.host) labels.push(labelName('host:', view.host));
  if (view.container) labels.push(labelName('container:', view.container));
  labels.push(fingerprintLabel(view.fingerprint), ...extra);
  return [...new Set(labels)];
}

function clip(text: string, max: number, tail = ''): string {
  return text.length + tail.length <= max ? text + tail : `${text.slice(0, max - tail.length - 2)}…\n${tail}`;
}

export interface IssueContent {
  title: string;
  body: string;
  labels: string[];
}

/** The POST /issues body for an alert. The title is one line; the body ends with the marker, whatever the template. */
export function renderIssue(alert: AlertTransition, templates: IssueTemplates, extraLabels: readonly string[], externalUrl = ''): IssueContent {
  const view = issueView(alert, externalUrl);
  const title = templates.title(view).replace(/\s*[\r\n]+\s*/g, ' ').trim() || `${view.name} (${alert.fingerprint})`;
  return {
    title: title.length > TITLE_MAX ? `${title.slice(0, TITLE_MAX - 1)}…` : title,
    body: clip(templates.body(view).trimEnd(), BODY_MAX, `\n\n${issueMarker(alert)}`),
    labels: issueLabels(view, extraLabels),
  };
}

// ---- comments ----

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

/** `, value 93.1%` for an alert that has a value. */
function valueText(v: IssueView): string {
  if (v.value === undefined) return '';
  return `, value ${v.fraction ? HELPERS.percent(v.value) : HELPERS.number(v.value)}`;
}

/** For an alert that counts events (a frequency rule: unit {event}), how many occurred in its window. */
function occurrencesLine(alert: AlertTransition): string {
  if (alert.unit !== '{event}' || !(alert.window > 0) || alert.value === undefined) return '';
  return `\n${plural(alert.value, 'occurrence')} of this error in the last ${HELPERS.duration(alert.window)}${alert.annotations['host.name'] ? `, latest on \`${cell(alert.annotations['host.name'])}\`` : ''}.`;
}

/** "Fired again" comment: how many occurrences since when, and the latest one. */
export function recurrenceComment(alert: AlertTransition, occurrences: number, sinceMs: number): string {
  const v = issueView(alert);
  return clip(
    [
      `**Fired again**: ${plural(occurrences, 'occurrence')} since ${HELPERS.time(sinceMs)}.`,
      '',
      `Latest: ${HELPERS.time(alert.startsAt)}, severity **${alert.severity}**${valueText(v)}${v.message ? `: ${cell(v.message)}` : ''}`,
      occurrencesLine(alert),
    ].join('\n').trimEnd(),
    BODY_MAX,
    `\n\n${noteMarker('recurrence', alert)}`,
  );
}

/** Resolved comment, with the occurrences not yet reported. */
export function resolvedComment(alert: AlertTransition, pending: number, closing: boolean): string {
  const lasted = alert.endsAt ? ` (lasted ${HELPERS.duration(alert.startsAt, alert.endsAt)})` : '';
  const lines = [`**Resolved** at ${HELPERS.time(alert.endsAt ?? '')}${lasted}.${closing ? ' Closing; Vigil reopens this issue if it fires again.' : ''}`];
  if (pending > 0) lines.push('', `It fired ${plural(pending, 'more time')} since the last report.`);
  return `${lines.join('\n')}\n\n${noteMarker('resolved', alert)}`;
}

/** Reopen comment. */
export function regressionComment(alert: AlertTransition, reopening: boolean): string {
  const v = issueView(alert);
  return clip(
    [
      `**Regression**: fired again at ${HELPERS.time(alert.startsAt)} after this issue was closed${reopening ? '; reopening' : ''}.`,
      '',
      `Severity **${alert.severity}**${valueText(v)}${v.message ? `: ${cell(v.message)}` : ''}`,
      occurrencesLine(alert),
      v.traceback ? `\n${code(v.traceback)}` : '',
    ].join('\n').trimEnd(),
    BODY_MAX,
    `\n\n${noteMarker('regression', alert)}`,
  );
}
