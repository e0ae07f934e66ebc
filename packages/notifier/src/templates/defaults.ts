/**
 * Texts shared by the channels' default templates, and the built-in partials. A channel's own
 * defaults live in its folder (channels/<kind>/templates.ts) and may use these.
 */

/**
 * `[FIRING:CRITICAL] cpu_high on web-1`; `[FIRING:2:CRITICAL] cpu_high` for a group; `[RESOLVED] ...`.
 * `onTarget` is ` on web-1`, or nothing when the name already says where.
 */
export const GROUP_TITLE =
  '{{#if firing}}[FIRING{{#if multiple}}:{{firingCount}}{{/if}}:{{upper severity}}]{{else}}[RESOLVED{{#if multiple}}:{{count}}{{/if}}]{{/if}} {{name}}{{onTarget}}';

/**
 * One alert in full: summary, description, the value with its window and the threshold crossed
 * (only for an alert that has a value: a notify API message or an alert from Prometheus has
 * none), severity, labels, start, and for a resolved alert its end and how long it lasted.
 */
export const ALERT_DETAIL = [
  '{{#if annotations.summary}}{{annotations.summary}}\n{{/if}}',
  '{{#if annotations.description}}{{annotations.description}}\n{{/if}}',
  '{{#if hasValue}}Value: {{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{#if window}} over {{duration window}}{{/if}}',
  '{{#if firing}}{{#if threshold}} ({{severity}} at {{#if fraction}}{{percent threshold}}{{else}}{{number threshold}}{{/if}}){{/if}}{{/if}}\n{{/if}}',
  'Severity: {{severity}}\n',
  'Labels:{{#each labels}}{{#unless (eq @key "severity")}} {{@key}}={{this}}{{/unless}}{{/each}}\n',
  'Started: {{time startsAt}}',
  '{{#if resolved}}\nResolved: {{time endsAt}} (lasted {{duration startsAt endsAt}}){{/if}}',
].join('');

/** The rate-limit note: how many messages were held back since the last one sent. */
const HELD_BACK = '{{#if heldBack}}\n\n({{heldBack.count}} earlier notification(s) held back by the rate limit since {{time heldBack.since}}: {{heldBack.firing}} firing, {{heldBack.resolved}} resolved){{/if}}';

/** One alert in full when the group has one; each alert under a header line otherwise. */
export const GROUP_TEXT = [
  '{{#if multiple}}{{#each alerts}}{{#unless @first}}\n\n{{/unless}}{{> alertLine}}\n{{> alertDetail}}{{/each}}',
  '{{else}}{{#with alert}}{{> alertDetail}}{{/with}}{{/if}}',
  HELD_BACK,
].join('');

/** A short text (SMS): the title, then one line per alert, no details. */
export const SHORT_TEXT = '{{> alertList}}';

export const BUILTIN_PARTIALS: Record<string, string> = {
  /** One line for an alert: mark, status, name, target, value, summary. */
  alertLine:
    '{{severityEmoji severity status}} [{{upper status}}{{#if firing}}:{{upper severity}}{{/if}}] {{name}}{{onTarget}}{{#if hasValue}}: {{#if fraction}}{{percent value}}{{else}}{{number value}}{{/if}}{{/if}}{{#if annotations.summary}} - {{annotations.summary}}{{/if}}',
  /** The group's alerts, one line each. */
  alertList: '{{#each alerts}}{{> alertLine}}\n{{/each}}',
  /** An alert in full: summary, description, value, severity, labels, start and end. */
  alertDetail: ALERT_DETAIL,
};
