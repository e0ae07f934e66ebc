import { Type, type Static } from '@sinclair/typebox';

/**
 * The rule-pack file format (`packages/collector/rules/*.yaml`, or a user's file). Every key is
 * documented here; `compileRulePack` checks a pack against this schema and then compiles it.
 */

const Name = Type.String({ pattern: '^[A-Za-z0-9_.-]+$', description: 'letters, digits, _ . -' });

export const MetricSpec = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_.]*$', description: 'metric name, letters, digits, _ and . (e.g. vigil.tunnel.bytes)' }),
    kind: Type.Union([Type.Literal('sum'), Type.Literal('gauge'), Type.Literal('last')], {
      description: 'sum adds values (counters), gauge keeps the latest value, last keeps the time of the latest match (s since the epoch)',
    }),
    value: Type.Optional(
      Type.Union([Type.Number(), Type.String()], {
        description: 'a constant, or the named group / attribute holding the number; default 1 for sum, the line time for last',
      }),
    ),
    unit: Type.String({ default: '', description: 'UCUM unit as OpenTelemetry writes it: By, s, {connection}' }),
    description: Type.String({ default: '', description: 'shown with the metric' }),
    attributes: Type.Array(Type.String(), { default: [], description: 'attributes (or named groups) that key a series: one series per entity' }),
  },
  { additionalProperties: false },
);
export type MetricSpec = Static<typeof MetricSpec>;

export const SeverityWord = Type.Union(
  ['low', 'medium', 'high', 'critical', 'trace', 'debug', 'info', 'notice', 'warn', 'warning', 'error', 'fatal'].map((w) => Type.Literal(w)),
  { description: 'low, medium, high, critical (INFO, WARN, ERROR, FATAL) or a level word' },
);

export const RuleSpec = Type.Object(
  {
    name: Name,
    match: Type.String({ minLength: 1, description: 'JavaScript regular expression; named groups set attributes (__ in a group name stands for a dot)' }),
    flags: Type.String({ pattern: '^[imsu]*$', default: '', description: 'regular-expression flags: i (ignore case), m, s, u' }),
    severity: Type.Optional(SeverityWord),
    category: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]*$', description: 'lower-case name: database_connection, cache_connection, application_error, or your own' })),
    event: Type.Optional(Type.String({ minLength: 1, description: 'event name given to matching lines (e.g. tunnel.connected)' })),
    attributes: Type.Record(Type.String(), Type.String(), { default: {}, description: 'attributes to set; ${group} is replaced by a named group' }),
    types: Type.Record(Type.String(), Type.Union([Type.Literal('int'), Type.Literal('float'), Type.Literal('string'), Type.Literal('bool')]), {
      default: {},
      description: 'attribute types beyond the semantic conventions known to be integers',
    }),
    continue: Type.Boolean({ default: false, description: 'keep trying the rules after this one when it matches' }),
    unwrap: Type.Boolean({
      default: false,
      description: "the rules after this one match the line's message (this rule's message group) instead of the whole line: for wrappers such as syslog, journald or a container runtime around an application's own line",
    }),
    metrics: Type.Array(MetricSpec, { default: [] }),
  },
  { additionalProperties: false },
);
export type RuleSpec = Static<typeof RuleSpec>;

export const RulePackSpec = Type.Object(
  {
    name: Type.Optional(Name),
    description: Type.Optional(Type.String()),
    include: Type.Array(Type.String(), { default: [], description: 'packs whose rules run after this pack\'s own (a built-in name or a path relative to this file)' }),
    json: Type.Boolean({ default: true, description: 'read lines that are JSON objects as structured records' }),
    rules: Type.Array(RuleSpec, { default: [] }),
  },
  { additionalProperties: false },
);
export type RulePackSpec = Static<typeof RulePackSpec>;
