import { Type, type SchemaOptions, type StaticDecode, type TLiteral, type TSchema, type TUnion } from '@sinclair/typebox';
import { Duration } from '@vigil/platform';

/**
 * The rules section of vigil.yaml and of rule files, owned by this package. The platform's
 * config schema leaves `rules:` open (like `notifier:`); `checkRulesConfig` checks it here, one
 * kind's schema per rule, so a message names the file, the rule and the key.
 *
 * Every kind shares the core: name, labels, annotations, `for`, `keepFiringFor`, grouping,
 * `nodata` and `flapping`. Kinds that compare a number add the thresholds.
 */

const Closed = { additionalProperties: false } as const;

type Literals<T extends readonly string[]> = { -readonly [K in keyof T]: TLiteral<T[K]> };
const literals = <const T extends readonly string[]>(values: T, options?: SchemaOptions): TUnion<Literals<T>> =>
  Type.Union(values.map((v) => Type.Literal(v)), options) as unknown as TUnion<Literals<T>>;

export const RULE_KINDS = ['threshold', 'frequency', 'ratio', 'rate', 'absence', 'state', 'sql'] as const;
export type RuleKind = (typeof RULE_KINDS)[number];

const Matchers = Type.Record(Type.String(), Type.String(), {
  default: {},
  description: 'Attribute, then resource-attribute matchers: "x" equals, "!x" not equal, "~re" matches, "!~re" does not match (anchored).',
});

export const SEVERITY_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

/** Which log records an event rule counts. Every given part must match. */
export const EventSelector = Type.Object(
  {
    name: Type.Optional(Type.String({ description: 'Event name (app.startup, probe.state_changed, ...), in matcher syntax: "x", "!x", "~re", "!~re".' })),
    severity: Type.Optional(literals(SEVERITY_LEVELS, { description: 'At or above this OpenTelemetry severity: trace, debug, info, warn, error, fatal.' })),
    category: Type.Optional(Type.String({ description: 'vigil.category of the record (set by the collector\'s parse rules), in matcher syntax.' })),
    where: Matchers,
    body: Type.Optional(Type.String({ format: 'regex', description: 'Regular expression searched in the body (not anchored).' })),
  },
  { ...Closed, description: 'Log records (events) to count.' },
);

const core = {
  name: Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.:-]*$', description: 'Unique rule name; the alertname label of its alerts.' }),
  labels: Type.Record(Type.String(), Type.String(), { default: {}, description: 'Labels added to every alert of the rule (part of its identity).' }),
  annotations: Type.Record(Type.String(), Type.String(), {
    default: {},
    description: 'Texts for notifications, with {{value}}, {{human}}, {{threshold}}, {{severity}}, {{labels.NAME}}, {{event.NAME}} ... substituted.',
  }),
  for: Duration({ default: '0s', description: 'How long the condition must hold before the alert fires.' }),
  keepFiringFor: Duration({ default: '0s', description: 'How long a firing alert stays firing after its condition stopped holding (as in Prometheus).' }),
  nodata: literals(['keep', 'alerting', 'resolve'], {
    default: 'keep',
    description: 'When the source of a group goes silent: keep its state (shown as nodata), fire as nodata, or resolve.',
  }),
  flapping: Type.Optional(
    Type.Object(
      {
        changes: Type.Integer({ minimum: 2, default: 6, description: 'More state changes than this within the window make an alert flapping: held firing until it settles.' }),
        window: Duration({ default: '1h', description: 'The window state changes are counted in.' }),
      },
      { ...Closed, description: 'Flap damping (default: rules.flapping).' },
    ),
  ),
  unit: Type.Optional(Type.String({ description: 'Unit of the value (UCUM: 1 for a fraction, s, ms, By, %); default the metric\'s own.' })),
  description: Type.Optional(Type.String({ description: 'What the rule is for (documentation only).' })),
};

const groupBy = Type.Array(Type.String({ minLength: 1 }), { default: ['host.name'], description: 'Attributes (then resource attributes) that make one alert each.' });

const thresholds = {
  op: literals(['>', '>=', '<', '<=', '==', '!='], { default: '>=' }),
  info: Type.Optional(Type.Number({ description: 'Threshold of an info alert.' })),
  warning: Type.Optional(Type.Number({ description: 'Threshold of a warning.' })),
  critical: Type.Optional(Type.Number({ description: 'Threshold of a critical alert (checked first).' })),
  recover: Type.Object(
    {
      info: Type.Optional(Type.Number()),
      warning: Type.Optional(Type.Number()),
      critical: Type.Optional(Type.Number()),
    },
    { ...Closed, default: {}, description: 'Hysteresis: once at a level, the alert stays there until the value passes this (below it for > and >=, above it for < and <=).' },
  ),
};

const window = (def: string) => Duration({ default: def, description: 'The window the value is computed over, ending at each evaluation.' });

export const MetricAggregate = literals(['avg', 'min', 'max', 'sum', 'count', 'last']);
export const Combine = literals(['sum', 'avg', 'max', 'min'], { description: 'How the series of one group at one instant are merged before the window aggregate (e.g. sum over CPU modes).' });

export const ThresholdRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('threshold', { default: 'threshold' }),
    metric: Type.String({ minLength: 1, description: 'OpenTelemetry metric name (gauge or sum), e.g. system.cpu.utilization.' }),
    where: Matchers,
    groupBy,
    combine: Type.Optional(Combine),
    aggregate: literals(['avg', 'min', 'max', 'sum', 'count', 'last'], { default: 'avg' }),
    window: window('1m'),
    ...thresholds,
  },
  Closed,
);

export const FrequencyRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('frequency'),
    events: EventSelector,
    groupBy,
    window: window('5m'),
    ...thresholds,
  },
  Closed,
);

const MetricSide = Type.Object(
  {
    metric: Type.String({ minLength: 1 }),
    where: Matchers,
    combine: Type.Optional(Combine),
    aggregate: literals(['increase', 'rate', 'avg', 'min', 'max', 'sum', 'count', 'last'], {
      default: 'increase',
      description: 'increase (of a counter, resets handled), rate (per second), or an aggregate of the samples.',
    }),
  },
  Closed,
);
const EventSide = Type.Object({ events: EventSelector }, Closed);
/** One side of a ratio: a metric or an event count. */
export const RatioSide = Type.Union([MetricSide, EventSide], { description: 'A metric ({ metric, where, aggregate }) or an event count ({ events: {...} }).' });

export const RatioRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('ratio'),
    numerator: RatioSide,
    denominator: RatioSide,
    groupBy,
    window: window('5m'),
    ...thresholds,
  },
  Closed,
);

export const RateRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('rate'),
    metric: Type.String({ minLength: 1, description: 'A counter: an OpenTelemetry sum, cumulative or delta.' }),
    where: Matchers,
    groupBy,
    function: literals(['rate', 'increase'], { default: 'rate', description: 'rate: per second over the window; increase: the total over the window. Counter resets count as in Prometheus.' }),
    window: window('5m'),
    ...thresholds,
  },
  Closed,
);

const Severity = literals(['info', 'warning', 'critical'], { default: 'warning' });

export const AbsenceRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('absence'),
    metric: Type.Optional(Type.String({ minLength: 1, description: 'Watch this metric ...' })),
    events: Type.Optional(EventSelector),
    where: Matchers,
    groupBy,
    after: Duration({ default: '10m', description: 'Fire when a group seen before sends nothing for this long.' }),
    forgetAfter: Duration({ default: '7d', description: 'A group silent this long is forgotten (a decommissioned client); its alert resolves, saying so.' }),
    severity: Severity,
  },
  Closed,
);

const StateValues = Type.Union([Type.Number(), Type.String(), Type.Array(Type.Union([Type.Number(), Type.String()]))]);

export const StateRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('state'),
    metric: Type.Optional(Type.String({ minLength: 1, description: 'The latest value of this metric is the state.' })),
    events: Type.Optional(EventSelector),
    attribute: Type.Optional(Type.String({ minLength: 1, description: 'With events: the attribute that holds the state (e.g. vigil.probe.state).' })),
    where: Matchers,
    groupBy,
    info: Type.Optional(StateValues),
    warning: Type.Optional(StateValues),
    critical: Type.Optional(StateValues),
  },
  Closed,
);

export const SqlRuleSchema = Type.Object(
  {
    ...core,
    kind: Type.Literal('sql'),
    query: Type.String({ minLength: 1, description: 'A read-only ClickHouse SELECT; {table:otel_logs} names a Vigil table, {now:DateTime64(3)} and {window:UInt64} (ms) are bound.' }),
    interval: Duration({ default: '1m', description: 'How often the query runs.' }),
    value: Type.String({ default: 'value', description: 'The column holding the value compared with the thresholds.' }),
    groupBy: Type.Optional(Type.Array(Type.String({ minLength: 1 }), { description: 'Label columns; default every column but the value.' })),
    window: Duration({ default: '0s', description: 'Passed to the query as {window:UInt64} (ms); shown on the alert.' }),
    timeout: Duration({ default: '10s', description: 'max_execution_time of the query.' }),
    maxRows: Type.Integer({ minimum: 1, default: 10_000, description: 'max_result_rows: more rows than this fail the evaluation.' }),
    ...thresholds,
  },
  Closed,
);

export const RULE_SCHEMAS = {
  threshold: ThresholdRuleSchema,
  frequency: FrequencyRuleSchema,
  ratio: RatioRuleSchema,
  rate: RateRuleSchema,
  absence: AbsenceRuleSchema,
  state: StateRuleSchema,
  sql: SqlRuleSchema,
} as const satisfies Record<RuleKind, TSchema>;

export type ThresholdRule = StaticDecode<typeof ThresholdRuleSchema>;
export type FrequencyRule = StaticDecode<typeof FrequencyRuleSchema>;
export type RatioRule = StaticDecode<typeof RatioRuleSchema>;
export type RateRule = StaticDecode<typeof RateRuleSchema>;
export type AbsenceRule = StaticDecode<typeof AbsenceRuleSchema>;
export type StateRule = StaticDecode<typeof StateRuleSchema>;
export type SqlRule = StaticDecode<typeof SqlRuleSchema>;
export type Rule = ThresholdRule | FrequencyRule | RatioRule | RateRule | AbsenceRule | StateRule | SqlRule;
export type EventSelectorConfig = StaticDecode<typeof EventSelector>;
export type RatioSideConfig = StaticDecode<typeof RatioSide>;
export type StateValue = number | string | (number | string)[];

/** `rules:` in vigil.yaml. `groupId` is the platform's (it picks the Kafka group); the rest is ours. */
export const RulesSection = Type.Object(
  {
    groupId: Type.String({ default: 'vigil-rules', description: 'Kafka consumer group of the rules workers.' }),
    evaluationInterval: Duration({ default: '10s', description: 'The step windows are evaluated at (aligned to it), once each source has passed it.' }),
    defaults: Type.Boolean({ default: true, description: 'Run the default pack (packages/rules/pack/default.yaml); a configured rule of the same name replaces its default.' }),
    files: Type.Array(Type.String({ minLength: 1 }), {
      default: [],
      description: 'Rule files: a file, or a directory whose *.yaml and *.yml files are read (not *.test.yaml). Reloaded on change, SIGHUP and POST /api/v1/rules/reload.',
    }),
    rules: Type.Array(Type.Object({ kind: Type.Optional(Type.String()) }, { additionalProperties: true }), { default: [], description: 'Rules (each checked by its kind\'s schema).' }),
    maxLateness: Duration({ default: '30s', description: 'A window is evaluated once its source passed its end, or after this much waiting for a source that stalls.' }),
    sources: Type.Object(
      {
        silentAfter: Duration({ default: '2m', description: 'A source (host.id, else service.instance.id) that sends nothing for this long (at least 3 of its usual gaps) is silent: its alerts go nodata and one source_silent alert fires.' }),
        forgetAfter: Duration({ default: '24h', description: 'A source silent this long is forgotten and its source_silent alert resolves.' }),
        severity: Severity,
      },
      { ...Closed, default: {}, description: 'Late versus absent: per-source watermarks.' },
    ),
    flapping: Type.Object(
      {
        changes: Type.Integer({ minimum: 2, default: 6, description: 'More state changes than this within the window make an alert flapping.' }),
        window: Duration({ default: '1h', description: 'The window state changes are counted in.' }),
      },
      { ...Closed, default: {}, description: 'Default flap damping of every rule.' },
    ),
    sql: Type.Object(
      {
        tickTopic: Type.String({ default: 'vigil.rules.ticks', description: 'One-partition topic whose consumer (one instance of the group) runs the sql rules.' }),
      },
      { ...Closed, default: {}, description: 'sql rules.' },
    ),
  },
  { ...Closed, default: {} },
);
export type RulesSettings = StaticDecode<typeof RulesSection>;

/** A rule file: `rules:` (a list), and optionally nothing else. */
export const RuleFileSchema = Type.Object(
  { rules: Type.Array(Type.Object({ kind: Type.Optional(Type.String()) }, { additionalProperties: true }), { default: [] }) },
  Closed,
);
