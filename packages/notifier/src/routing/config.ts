import { Type, type StaticDecode } from '@sinclair/typebox';
import { Duration, DURATION_PATTERN, formatDuration, parseDuration } from '@vigil/platform';

/**
 * Config schemas of the routing stage, shaped after Alertmanager's `route`, `inhibit_rules`,
 * silences and `time_intervals`, so people who know those read them at once.
 *
 * Matchers are Alertmanager matcher strings (`severity="critical"`, `host=~"web-.*"`,
 * `rule!="x"`, `name!~"re"`; regexes are anchored). They are tested against an alert's
 * **routing labels**: its `labels` (which already hold `alertname`) plus `severity` and `rule`
 * (`alertLabels()` in matchers.ts); an alert's own label of the same name is overridden.
 */

const Closed = { additionalProperties: false } as const;

const Matchers = (description: string) =>
  Type.Array(Type.String(), { default: [], description: `${description} Alertmanager matcher strings, all must hold: name="v", name!="v", name=~"re", name!~"re".` });

const GROUP_BY = 'Labels whose values split alerts into groups (one notification per group); ["..."] groups by all labels, [] puts every alert of the route in one group.';
const GROUP_WAIT = 'How long a new group waits for more alerts before its first notification.';
const GROUP_INTERVAL = 'How long a group waits after a notification before notifying about changes (new or resolved alerts).';
const REPEAT_INTERVAL = 'How long before an unchanged firing group is notified again.';

/** A duration with no default: a child route's timers are inherited from its parent when absent. */
const InheritedDuration = (description: string) =>
  Type.Optional(
    Type.Transform(Type.String({ pattern: DURATION_PATTERN, 'x-kind': 'duration', description }))
      .Decode((text) => parseDuration(text) ?? Number.NaN)
      .Encode((ms) => formatDuration(ms)),
  );

/** Fields every route has; the timers and groupBy of a child route are inherited from its parent when absent. */
const routeFields = {
  receiver: Type.Optional(Type.String({ minLength: 1, description: 'Receiver that gets the notifications of this route; inherited from the parent when absent (required at the root).' })),
  matchers: Matchers('Alerts this route takes (the root takes every alert).'),
  continue: Type.Boolean({ default: false, description: 'Keep looking at the following sibling routes after this one matched (Alertmanager `continue`).' }),
  muteTimeIntervals: Type.Array(Type.String(), { default: [], description: 'Names of time intervals (routing.timeIntervals) during which this route sends nothing.' }),
  activeTimeIntervals: Type.Array(Type.String(), { default: [], description: 'Names of time intervals outside which this route sends nothing; [] means always active.' }),
};

/** A child route: like the root, but groupBy and the timers are inherited when absent. */
export const ChildRouteConfig = Type.Recursive(
  (This) =>
    Type.Object(
      {
        ...routeFields,
        groupBy: Type.Optional(Type.Array(Type.String(), { description: `${GROUP_BY} Inherited from the parent when absent.` })),
        groupWait: InheritedDuration(`${GROUP_WAIT} Inherited from the parent when absent (30s at the root).`),
        groupInterval: InheritedDuration(`${GROUP_INTERVAL} Inherited from the parent when absent (5m at the root).`),
        repeatInterval: InheritedDuration(`${REPEAT_INTERVAL} Inherited from the parent when absent (4h at the root).`),
        routes: Type.Array(This, { default: [], description: 'Child routes, tried in order; the first that matches takes the alert unless it has continue: true.' }),
      },
      Closed,
    ),
  { $id: 'ChildRoute' },
);

/**
 * The root of the routing tree. It takes every alert (its matchers are ignored, as in
 * Alertmanager), so it must name a receiver: the fallback for alerts no child route takes.
 */
export const RouteConfig = Type.Object(
  {
    ...routeFields,
    receiver: Type.String({ minLength: 1, description: 'Receiver for alerts that no child route takes.' }),
    groupBy: Type.Array(Type.String(), { default: ['alertname'], description: GROUP_BY }),
    groupWait: Duration({ default: '30s', description: GROUP_WAIT }),
    groupInterval: Duration({ default: '5m', description: GROUP_INTERVAL }),
    repeatInterval: Duration({ default: '4h', description: REPEAT_INTERVAL }),
    routes: Type.Array(ChildRouteConfig, { default: [], description: 'Child routes, tried in order; the first that matches takes the alert unless it has continue: true.' }),
  },
  Closed,
);

export const InhibitRuleConfig = Type.Object(
  {
    sourceMatchers: Matchers('A firing alert matching these mutes...'),
    targetMatchers: Matchers('...alerts matching these...'),
    equal: Type.Array(Type.String(), { default: [], description: '...when these labels have equal values in both (a label absent from both counts as equal).' }),
  },
  Closed,
);

/**
 * Used when `inhibitRules` is not configured: a critical alert mutes warnings of the same
 * `alertname` (the rule's name) on the same host (`host.name`, or `host`; alerts with neither
 * compare equal on them).
 * Configuring `inhibitRules` (even `[]`) replaces it.
 */
export const DEFAULT_INHIBIT_RULES: InhibitRuleConfig[] = [
  { sourceMatchers: ['severity="critical"'], targetMatchers: ['severity="warning"'], equal: ['alertname', 'host.name', 'host'] },
];

export const SilenceConfig = Type.Object(
  {
    id: Type.Optional(Type.String({ minLength: 1, description: 'Identity (a UUID); derived from the other fields when absent.' })),
    matchers: Type.Array(Type.String(), { minItems: 1, description: 'Alerts muted by this silence: Alertmanager matcher strings, all must hold.' }),
    startsAt: Type.String({ description: 'RFC 3339: when the silence starts.' }),
    endsAt: Type.String({ description: 'RFC 3339: when it ends (exclusive).' }),
    comment: Type.String({ default: '', description: 'Why (shown in the API and UI).' }),
    createdBy: Type.String({ default: '', description: 'Who created it.' }),
  },
  Closed,
);

const RANGE = '^\\s*[A-Za-z0-9-]+\\s*(:\\s*[A-Za-z0-9-]+\\s*)?$';

export const TimeRangeConfig = Type.Object(
  {
    weekdays: Type.Array(Type.String({ pattern: RANGE }), { default: [], description: 'Days of the week, single or ranges: ["monday:friday", "sunday"]; [] means every day.' }),
    times: Type.Array(
      Type.Object(
        {
          startTime: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'HH:MM, inclusive.' }),
          endTime: Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$', description: 'HH:MM, exclusive (24:00 for the end of the day).' }),
        },
        Closed,
      ),
      { default: [], description: 'Times of day in the location; [] means all day.' },
    ),
    daysOfMonth: Type.Array(Type.String({ pattern: RANGE }), { default: [], description: 'Days of the month, single or ranges, negative from the end: ["1:5", "-1"]; [] means every day.' }),
    months: Type.Array(Type.String({ pattern: RANGE }), { default: [], description: 'Months by number or name, single or ranges: ["1:3", "december"]; [] means every month.' }),
    years: Type.Array(Type.String({ pattern: RANGE }), { default: [], description: 'Years, single or ranges: ["2025:2026"]; [] means every year.' }),
    location: Type.String({ default: 'UTC', description: 'IANA time zone the fields above are read in (Europe/Berlin, America/New_York, Local for the machine\'s).' }),
  },
  Closed,
);

export const TimeIntervalConfig = Type.Object(
  {
    name: Type.String({ minLength: 1, description: 'Name that routes use in muteTimeIntervals and activeTimeIntervals.' }),
    timeIntervals: Type.Array(TimeRangeConfig, { default: [], description: 'The interval holds when any of these holds; each holds when all its fields hold.' }),
  },
  Closed,
);

/** The whole routing section, for the integration owner to mount as `notifier.routing`. */
export const RoutingConfig = Type.Object(
  {
    route: Type.Optional(RouteConfig),
    inhibitRules: Type.Optional(Type.Array(InhibitRuleConfig, { description: 'Inhibition rules; absent means DEFAULT_INHIBIT_RULES (a critical mutes warnings of the same alert name on the same host), [] means none.' })),
    timeIntervals: Type.Array(TimeIntervalConfig, { default: [], description: 'Named time intervals for routes\' muteTimeIntervals and activeTimeIntervals.' }),
    silences: Type.Array(SilenceConfig, { default: [], description: 'Silences from the config file (more come from the API).' }),
  },
  { ...Closed, default: {}, description: 'Routing, grouping, silences, time intervals and inhibition of notifications.' },
);

export type RouteConfig = StaticDecode<typeof RouteConfig>;
export type ChildRouteConfig = StaticDecode<typeof ChildRouteConfig>;
export type InhibitRuleConfig = StaticDecode<typeof InhibitRuleConfig>;
export type SilenceConfig = StaticDecode<typeof SilenceConfig>;
export type TimeRangeConfig = StaticDecode<typeof TimeRangeConfig>;
export type TimeIntervalConfig = StaticDecode<typeof TimeIntervalConfig>;
export type RoutingConfig = StaticDecode<typeof RoutingConfig>;
